"""The Keras callbacks a config turns on (the plateau schedule, early stopping), and the state of theirs
a checkpoint carries."""

from __future__ import annotations

import keras

from cnnkit.config import TrainConfig

# The attributes of the training callbacks that carry over from one epoch to the next (checkpoints).
CARRIED_STATE = {keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
                  keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch")}


def training_callbacks(cfg: TrainConfig) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = []
    if cfg.schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=cfg.plateau_monitor, factor=cfg.plateau_factor, patience=cfg.plateau_patience,
                min_lr=cfg.min_lr, min_delta=1e-3,
            )
        )
    if cfg.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.early_stopping, restore_best_weights=True))
    return callbacks

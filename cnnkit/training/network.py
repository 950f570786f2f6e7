"""The config's network: built with its input layers, compiled with its optimizer and loss, and the
labels in the one-hot form that loss takes."""

from __future__ import annotations

import keras
import numpy as np

from cnnkit.config import TrainConfig
from cnnkit.models import build_model, resolve_knobs
from cnnkit.training.tricks import input_layers, make_optimizer


def build(cfg: TrainConfig, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The config's network with its input layers (pre-filter, augmentation, normalisation), its
    randomness (initial weights, dropout, augmentation) drawn from the config's seed alone."""
    knobs = resolve_knobs(cfg.arch, cfg.activation, cfg.batch_norm, cfg.dropout_scale, cfg.width)
    return build_model(cfg.arch, input_shape, num_classes, knobs, preprocessing=input_layers(cfg, input_shape),
                       precision=cfg.precision, seed=cfg.seed)


def compile_model(model: keras.Model, cfg: TrainConfig, steps_per_epoch: int, rate=None) -> None:
    """The config's optimizer, loss and accuracy; a mixed_float16 model gets loss scaling from Keras."""
    model.compile(
        optimizer=make_optimizer(cfg, steps_per_epoch, rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
        steps_per_execution=cfg.steps_per_execution,
    )


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype="float32")[labels]


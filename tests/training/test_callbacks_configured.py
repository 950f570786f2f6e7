"""The Keras callbacks a config turns on, and the state of theirs a checkpoint carries."""

import keras

from cnnkit.config import TrainConfig
from cnnkit.training.callbacks.configured import CARRIED_STATE, training_callbacks


def test_a_plain_config_turns_on_no_callbacks():
    assert training_callbacks(TrainConfig(schedule="constant", early_stopping=0)) == []


def test_the_plateau_schedule_and_early_stopping_get_their_callbacks_with_the_configs_settings():
    cfg = TrainConfig(schedule="plateau", plateau_factor=0.3, plateau_patience=4, min_lr=1e-6, early_stopping=5)
    plateau, stopping = training_callbacks(cfg)
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau)
    assert (plateau.monitor, plateau.factor, plateau.patience, plateau.min_lr) == (cfg.plateau_monitor, 0.3, 4, 1e-6)
    assert isinstance(stopping, keras.callbacks.EarlyStopping)
    assert stopping.patience == 5 and stopping.monitor == "val_loss" and stopping.restore_best_weights


def test_every_carried_attribute_exists_on_a_fresh_callback():
    cfg = TrainConfig(schedule="plateau", early_stopping=3)
    for callback in training_callbacks(cfg):
        callback.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
        callback.on_train_begin()
        assert all(hasattr(callback, name) for name in CARRIED_STATE[type(callback)]), type(callback)

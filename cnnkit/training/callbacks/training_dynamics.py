"""`TrainingDynamics`: the Keras callback that records, after every epoch, how the model sees each
training example of a fixed sample, for the data map (Swayamdipta et al. 2020, "Dataset Cartography")."""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from cnnkit.config import TrainConfig
from cnnkit.datasets import Dataset
from cnnkit.tracking import run_schema


def sample_positions(count: int, size: int, seed: int) -> np.ndarray:
    """`size` of `count` training positions drawn without replacement from a generator of their own
    seeded with `seed` (the run's: the same sample in every run with it; no global RNG is touched),
    sorted; all of them when `size` >= `count`."""
    if size >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size, replace=False))


class TrainingDynamics(keras.callbacks.Callback):
    """After every epoch, the probability the model gives each sampled training example's label
    (float16) and the class it predicts, through `predict(model, images)` (training's test-set
    prediction); when fit ends, those of every epoch it trained are logged by `log_arrays(arrays,
    artifact_file)` under run_schema.TRAINING_DYNAMICS, with the examples' ids and labels, the epochs
    (1-based) and the training set's size. Nothing is logged when no epoch ended."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, ids: np.ndarray, training_size: int,
                 predict: Callable[[keras.Model, np.ndarray], np.ndarray],
                 log_arrays: Callable[[dict, str], None]):
        super().__init__()
        self.images, self.labels, self.ids, self.training_size = images, labels, ids, training_size
        self.predict, self.log_arrays = predict, log_arrays
        self.epochs: list[int] = []
        self.label_probabilities: list[np.ndarray] = []
        self.predicted: list[np.ndarray] = []

    @classmethod
    def for_run(cls, data: Dataset, cfg: TrainConfig, predict: Callable[[keras.Model, np.ndarray], np.ndarray],
                log_arrays: Callable[[dict, str], None]) -> TrainingDynamics:
        """The run's: `cfg.dynamics_sample` of `data`'s training examples, drawn with `cfg.seed`."""
        chosen = sample_positions(len(data.y_train), cfg.dynamics_sample, cfg.seed)
        return cls(data.x_train[chosen], data.y_train[chosen], data.ids_train[chosen], len(data.y_train), predict,
                   log_arrays)

    def on_epoch_end(self, epoch, logs=None):
        probabilities = np.asarray(self.predict(self.model, self.images))
        self.epochs.append(epoch + 1)
        self.label_probabilities.append(probabilities[np.arange(len(self.labels)), self.labels].astype(np.float16))
        self.predicted.append(probabilities.argmax(axis=1).astype(np.uint8 if probabilities.shape[1] <= 256 else np.uint16))

    def on_train_end(self, logs=None):
        if not self.epochs:
            return
        self.log_arrays({"label_probability": np.stack(self.label_probabilities), "predicted": np.stack(self.predicted),
                         "ids": self.ids, "labels": self.labels, "epochs": np.array(self.epochs),
                         "training_size": np.array(self.training_size)}, run_schema.TRAINING_DYNAMICS)

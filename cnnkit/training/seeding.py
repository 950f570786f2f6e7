"""The order a run sees its training images in, drawn from the run's own seed.

Keras' `fit(shuffle=True)` draws it from process-wide generators (TensorFlow's global seed and op
counter, NumPy's global generator on JAX), which jobs training at the same time in one process share
and advance; so two identical jobs at once would see different orders. Here each epoch's order is a
permutation drawn from (seed, epoch) alone, the same whoever else trains and after a resume.
"""

from __future__ import annotations

import math

import keras
import numpy as np


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The order of `count` training images in epoch `epoch` (0 first) of a run seeded `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(count)


class ShuffledBatches(keras.utils.PyDataset):
    """(x, y) in batches of `batch_size`, in `epoch_order` each epoch. Give fit these batches with
    `shuffle=False` (Keras would shuffle them with Python's `random`) and `callbacks=[batches.orderer()]`."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.order = np.arange(len(x))  # until fit's first epoch begins (Keras reads a batch or two to see shapes)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.x[chosen], self.y[chosen]

    def begin_epoch(self, epoch: int) -> None:
        self.order = epoch_order(self.seed, epoch, len(self.x))

    def orderer(self) -> keras.callbacks.Callback:
        """The callback that puts each epoch's order in place as fit begins the epoch, before it asks for
        the epoch's first batch. It takes fit's own epoch number: Keras also begins and ends the data's
        epochs for other reasons (on JAX, a first batch to build the model)."""
        return keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: self.begin_epoch(epoch))

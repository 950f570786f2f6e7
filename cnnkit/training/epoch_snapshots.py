"""`EpochSnapshots`: the Keras callback that keeps a run's model and test probabilities every k epochs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from cnnkit.tracking import run_schema
from cnnkit.training.snapshot_plan import is_snapshot_epoch


class EpochSnapshots(keras.callbacks.Callback):
    """After every `every`-th epoch and the last (of `epochs`; early stopping's last too, when fit
    ends), logs the model as a `.keras` file, which holds the optimizer's state for forks, and the
    test images' probabilities in float16, both under run_schema's snapshot names.

    `predict(model, epoch)` gives the probabilities (training's test-set prediction, with its test-
    time flip and its progress phase); `log_file(local_path, artifact_folder, checksum)` and
    `log_arrays(arrays, artifact_file, checksum)` store them (a RunLogger's methods), asked to record
    each file's SHA-256, which every load of a snapshot checks. With weight averaging
    on, a snapshot holds the weights being trained, not their average (fit swaps that in at its end).
    """

    def __init__(self, every: int, epochs: int, predict: Callable[[keras.Model, int], np.ndarray],
                 log_file: Callable[[Path, str, bool], None], log_arrays: Callable[[dict, str, bool], None]):
        super().__init__()
        self.every, self.epochs = every, epochs
        self.predict, self.log_file, self.log_arrays = predict, log_file, log_arrays
        self.epochs_done = self.last_saved = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done = epoch + 1
        if is_snapshot_epoch(self.epochs_done, self.epochs, self.every):
            self.save(self.epochs_done)

    def on_train_end(self, logs=None):
        if self.epochs_done and self.last_saved != self.epochs_done:  # early stopping ended fit before the last epoch
            self.save(self.epochs_done)

    def save(self, epoch: int) -> None:
        model_file = run_schema.snapshot_model(epoch)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(model_file).name
            self.model.save(path)
            self.log_file(path, str(Path(model_file).parent), True)
        probabilities = np.asarray(self.predict(self.model, epoch), dtype=np.float16)
        self.log_arrays({"probabilities": probabilities}, run_schema.snapshot_probabilities(epoch), True)
        self.last_saved = epoch

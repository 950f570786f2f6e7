"""A trained model's class probabilities for the test images."""

from __future__ import annotations

import math
import threading
from typing import Callable

import keras
import numpy as np

from cnnkit.config import TrainConfig
from cnnkit.training.callbacks import CancelCheck, PassMonitor


def predict_test_images(model: keras.Model, images: np.ndarray, cfg: TrainConfig, cancel: threading.Event,
                        on_batches: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The model's class probabilities for the test images; with `test_time_flip`, the mean of the
    image's and its left-right mirror image's. `on_batches(done, total)` hears how many batches of
    all the passes are done (see PassMonitor). On `cfg.devices` > 1 devices every batch is a multiple
    of their number: the images are padded with blank ones, whose predictions are dropped."""
    batch_size = max(256 - 256 % cfg.devices, cfg.batch_size)
    padding = -len(images) % cfg.devices
    steps = math.ceil((len(images) + padding) / batch_size)
    passes = 2 if cfg.test_time_flip else 1

    def predict(x, passes_done: int):
        callbacks: list[keras.callbacks.Callback] = [CancelCheck(cancel)]
        if on_batches:
            callbacks.append(PassMonitor(steps, lambda done: on_batches(passes_done * steps + done, passes * steps)))
        padded = np.concatenate([x, np.zeros((padding, *x.shape[1:]), x.dtype)]) if padding else x
        return model.predict(padded, batch_size=batch_size, verbose=0, callbacks=callbacks)[:len(x)]

    probabilities = predict(images, 0)
    if cfg.test_time_flip:
        probabilities = (probabilities + predict(images[:, :, ::-1], 1)) / 2
    return probabilities

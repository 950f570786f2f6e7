from __future__ import annotations

import threading

import keras

from cnnkit.training.progress import Cancelled


class CancelCheck(keras.callbacks.Callback):
    """Stops fit, evaluate or predict before the next batch once `cancel` is set. It checks when
    a batch begins, a hook that carries no logs, so it never waits for the device."""

    def __init__(self, cancel: threading.Event):
        super().__init__()
        self.cancel = cancel

    def _check(self, batch, logs=None):
        if self.cancel.is_set():
            raise Cancelled()

    on_train_batch_begin = on_test_batch_begin = on_predict_batch_begin = _check

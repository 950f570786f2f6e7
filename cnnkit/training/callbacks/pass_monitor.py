from __future__ import annotations

import time
from typing import Callable

import keras

REPORT_SECONDS = 0.25  # batch progress reaches the live view and the store at most this often


class PassMonitor(keras.callbacks.Callback):
    """Reports how many batches of a validation pass (inside fit) or a prediction pass are done,
    through `on_batches(done)`: at the start, when a batch begins (at most every `report_seconds`)
    and at the end. Batch-begin hooks carry no logs, so the device is never waited for."""

    def __init__(self, batches: int, on_batches: Callable[[int], None], report_seconds: float = REPORT_SECONDS):
        super().__init__()
        self.batches, self.on_batches, self.report_seconds = batches, on_batches, report_seconds
        self._last_report = 0.0

    def on_test_begin(self, logs=None):
        self._report(0)

    def on_test_batch_begin(self, batch, logs=None):  # `batch`: index of the batch beginning = batches done
        if time.monotonic() - self._last_report >= self.report_seconds:
            self._report(batch)

    def on_test_end(self, logs=None):
        self._report(self.batches)

    on_predict_begin, on_predict_batch_begin, on_predict_end = on_test_begin, on_test_batch_begin, on_test_end

    def _report(self, done: int) -> None:
        self._last_report = time.monotonic()
        self.on_batches(min(done, self.batches))

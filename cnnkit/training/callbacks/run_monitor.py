from __future__ import annotations

import math
import threading
import time

import keras

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.tracking import run_schema
from cnnkit.training.callbacks.batch_loss import BatchLoss
from cnnkit.training.callbacks.pass_monitor import REPORT_SECONDS, PassMonitor
from cnnkit.training.callbacks.rate_plan import RatePlan
from cnnkit.training.failures import LossDiverged
from cnnkit.training.progress import Progress, ProgressCallback


class RunMonitor(keras.callbacks.Callback):
    """Logs every batch's loss and learning rate and every epoch's metrics, and reports progress,
    without stalling the device.

    Reading a batch's loss waits for the device to finish that batch. Declared `async_safe`,
    this callback gets each batch's logs from Keras' callback threads, so the training loop
    never waits; the batches may arrive out of order, so their losses are recovered in batch
    order and passed on (store and progress report) at most every `report_seconds`.

    The first non-finite loss it reads ends fit with LossDiverged: raised on the callback
    thread, Keras raises it in the training loop at its next batch. A resumed run starts at
    `initial_epoch` and does not log again the epochs and steps its store already holds
    (`logged_epochs`, `logged_steps`: what the interrupted process logged after its checkpoint).

    Each epoch's `elapsed_s` continues the clock of the epoch before (`latest`, which a checkpoint
    carries, as a fork's start carries its parent's); a run resumed from a checkpoint without one logs
    none. The first epoch whose validation accuracy reaches each of `VAL_ACCURACY_THRESHOLDS` logs its
    elapsed_s as that threshold's `time_to_val_acc_*`, once (`reached`, also carried).
    """

    async_safe = True

    def __init__(self, logger: tracking.RunLogger, cfg: TrainConfig, n_train: int, steps_per_epoch: int,
                 on_progress: ProgressCallback, report_seconds: float = REPORT_SECONDS, *, initial_epoch: int = 0,
                 logged_epochs: int = 0, logged_steps: int = 0):
        super().__init__()
        self.logger, self.cfg, self.steps_per_epoch, self.on_progress = logger, cfg, steps_per_epoch, on_progress
        self.report_seconds = report_seconds
        self.batch_loss = BatchLoss(n_train, cfg.batch_size)
        self.rates = RatePlan(cfg, steps_per_epoch)
        self.epoch, self.batch, self.logged_lr, self.latest = initial_epoch, 0, None, {}
        self.reached: dict[str, float] = {}  # time_to_val_acc_* -> elapsed_s, for the thresholds reached
        self.step = self.first_step = initial_epoch * steps_per_epoch
        self.logged_epochs, self.logged_steps = logged_epochs, logged_steps
        self.diverged: LossDiverged | None = None
        self._lock = threading.Lock()
        self._arrived: dict[int, float] = {}  # this epoch's batch index -> Keras' running mean loss
        self._next_batch = 0  # the batch index whose running mean is needed next
        self._points: list[tuple[int, float, float]] = []  # (step, loss, lr) not yet reported
        self._last_report = 0.0
        self._closed = False

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.rates.start_epoch(self.model)
        with self._lock:
            self.epoch, self.epoch_started = epoch + 1, time.monotonic()
            self.batch_loss.reset()
            self._arrived.clear()
            self._next_batch = self.cfg.steps_per_execution - 1  # Keras reports the last batch of each execution

    def on_train_batch_end(self, batch, logs=None):  # on one of Keras' callback threads
        with self._lock:
            if self._closed:
                return
            self._arrived[batch] = logs["loss"]
            if time.monotonic() - self._last_report >= self.report_seconds:
                self._report_batches()
        self._raise_if_diverged()

    def on_epoch_end(self, epoch, logs=None):  # Keras has waited for every batch of the epoch
        with self._lock:
            self._report_batches()
        self._raise_if_diverged()
        values = {key: float(value) for key, value in (logs or {}).items() if key != "learning_rate"}
        if not math.isfinite(values.get(run_schema.LOSS, 0.0)):  # a last batch _report_batches does not read
            raise LossDiverged(epoch + 1, self.steps_per_epoch, values[run_schema.LOSS])
        values[run_schema.LR] = self.rates.at(self.step - 1)
        values[run_schema.EPOCH_SECONDS] = time.monotonic() - self.epoch_started
        before = self.latest.get(run_schema.ELAPSED_SECONDS, 0.0 if epoch == 0 else None)
        if before is not None:
            values[run_schema.ELAPSED_SECONDS] = before + values[run_schema.EPOCH_SECONDS]
        reached = self._newly_reached(values)
        self.latest = values
        if epoch + 1 > self.logged_epochs:
            self.logger.log_metrics({**values, **reached}, step=epoch + 1)
        self.logger.flush()
        self._report("epoch", self.steps_per_epoch, values)

    def _newly_reached(self, values: dict[str, float]) -> dict[str, float]:
        """The thresholds this epoch's validation accuracy reaches for the first time, as time_to metrics."""
        elapsed, accuracy = values.get(run_schema.ELAPSED_SECONDS), values.get(run_schema.VAL_ACCURACY)
        if elapsed is None or accuracy is None:
            return {}
        reached = {key: elapsed for key in tracking.thresholds_reached(accuracy) if key not in self.reached}
        self.reached.update(reached)
        return reached

    def _raise_if_diverged(self) -> None:
        if self.diverged is not None:
            raise self.diverged

    def close(self) -> None:
        """Pass on what has arrived and ignore batches that arrive later (fit was cancelled or failed)."""
        with self._lock:
            self._report_batches()
            self._closed = True

    def _report_batches(self) -> None:
        """Lock held. Turn the running means that arrived in order into batch losses; log and report them."""
        while self._next_batch in self._arrived:
            batch = self._next_batch
            running_mean = self._arrived.pop(batch)
            if not math.isfinite(running_mean):
                self.diverged, self._closed = LossDiverged(self.epoch, batch + 1, running_mean), True
                break
            loss = self.batch_loss.update(batch, running_mean)
            self.batch = min(batch + 1, self.steps_per_epoch)
            self.step = (self.epoch - 1) * self.steps_per_epoch + self.batch
            lr = self.rates.at(self.step - 1)
            values = {run_schema.BATCH_LOSS: loss}
            if lr != self.logged_lr:
                values[run_schema.BATCH_LR] = self.logged_lr = lr
            if self.step > self.logged_steps:
                self.logger.log_metrics(values, step=self.step)
            self._points.append((self.step, loss, lr))
            self._next_batch += self.cfg.steps_per_execution
        if self._points:
            step, loss, lr = self._points[-1]
            self._report("batch", self.batch, {run_schema.BATCH_LOSS: loss, run_schema.BATCH_LR: lr}, tuple(self._points))
            self._points = []
        self._last_report = time.monotonic()

    def validation_monitor(self, images: int) -> PassMonitor:
        """A callback for fit that reports each epoch's validation pass over `images` as phase "validating"."""
        batches = math.ceil(images / self.cfg.batch_size)  # fit validates in batches of the training batch size

        def validating(done: int) -> None:
            elapsed, eta = self._timing()
            self.on_progress(Progress("validating", self.epoch, self.cfg.epochs, self.steps_per_epoch,
                                      self.steps_per_epoch, elapsed, eta, event="pass", step=self.step,
                                      pass_batch=done, pass_batches=batches, pass_images=images))

        return PassMonitor(batches, validating, self.report_seconds)

    def _timing(self) -> tuple[float, float | None]:
        """Seconds since training began, and the estimate of the seconds left."""
        elapsed = time.monotonic() - self.started
        total, done_here = self.cfg.epochs * self.steps_per_epoch, self.step - self.first_step
        return elapsed, elapsed / done_here * (total - self.step) if done_here > 0 else None

    def _report(self, event: str, batch: int, metrics: dict[str, float], points=()) -> None:
        elapsed, eta = self._timing()
        self.on_progress(Progress("training", self.epoch, self.cfg.epochs, batch, self.steps_per_epoch, elapsed, eta,
                                  metrics, event, self.step, points))

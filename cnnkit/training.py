"""From a config to a finished, logged run, plus the learning-rate range test.

`train` never lets an exception escape: a run that raises ends FAILED with its message,
a cancelled run ends KILLED, and both keep everything they logged so far.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np

from cnnkit import tracking
from cnnkit.architectures import build_model, resolve_knobs
from cnnkit.config import TrainConfig
from cnnkit.datasets import Dataset, load_dataset
from cnnkit.evaluation import evaluate
from cnnkit.tricks import ExponentialRamp, LRSuggestion, input_layers, make_optimizer, suggest_lr_range

MISTAKE_IMAGES = 100  # misclassified test images kept with a run for galleries


@dataclass(frozen=True)
class Progress:
    """A snapshot of where a run is, for progress bars and live views."""

    phase: str  # loading data, building model, training, evaluating, saving, finished, failed, cancelled
    epoch: int = 0  # 1-based epoch in progress
    epochs: int = 0
    batch: int = 0  # batches done in this epoch
    batches: int = 0  # batches per epoch
    elapsed_s: float = 0.0
    eta_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # this batch's or this epoch's values
    event: str = "phase"  # "batch" after each training batch, "epoch" after each epoch, else "phase"
    step: int = 0  # optimizer steps done so far

    @property
    def fraction(self) -> float:
        total = self.epochs * self.batches
        return 0.0 if not total else min(1.0, ((self.epoch - 1) * self.batches + self.batch) / total)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str  # FINISHED, FAILED or KILLED
    metrics: dict[str, float]
    error: str | None = None


class Cancelled(Exception):
    """Raised inside fit by the cancel check, so training stops within one batch."""


ProgressCallback = Callable[[Progress], None]


def load_data(cfg: TrainConfig) -> Dataset:
    return load_dataset(
        cfg.dataset,
        path=cfg.dataset_path or None,
        image_size=cfg.image_size or None,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        seed=cfg.seed,
        train_limit=cfg.train_limit or None,
    )


def build(cfg: TrainConfig, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The config's network with its input layers (pre-filter, augmentation, normalisation)."""
    knobs = resolve_knobs(cfg.arch, cfg.activation, cfg.batch_norm, cfg.dropout_scale, cfg.width)
    return build_model(cfg.arch, input_shape, num_classes, knobs, preprocessing=input_layers(cfg, input_shape))


def compile_model(model: keras.Model, cfg: TrainConfig, steps_per_epoch: int, rate=None) -> None:
    model.compile(
        optimizer=make_optimizer(cfg, steps_per_epoch, rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype="float32")[labels]


class BatchLoss:
    """Recovers each batch's own loss from Keras's running mean over the epoch.

    Keras reports the sample-weighted mean loss so far in the epoch; the batch's loss is
    the change in the running sum divided by the batch's size.
    """

    def __init__(self, n_samples: int, batch_size: int):
        self.n_samples, self.batch_size = n_samples, batch_size
        self.reset()

    def reset(self) -> None:
        self.seen, self.total = 0, 0.0

    def update(self, batch: int, running_mean: float) -> float:
        seen = min((batch + 1) * self.batch_size, self.n_samples)
        total = running_mean * seen
        loss = (total - self.total) / max(1, seen - self.seen)
        self.seen, self.total = seen, total
        return loss


def current_lr(model: keras.Model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class CancelCheck(keras.callbacks.Callback):
    def __init__(self, cancel: threading.Event):
        super().__init__()
        self.cancel = cancel

    def _check(self, batch, logs=None):
        if self.cancel.is_set():
            raise Cancelled()

    on_train_batch_end = on_test_batch_end = on_predict_batch_end = _check


class RunMonitor(keras.callbacks.Callback):
    """Logs per-batch loss and learning rate, per-epoch metrics, and reports progress."""

    def __init__(self, logger: tracking.RunLogger, cfg: TrainConfig, n_train: int, steps_per_epoch: int,
                 on_progress: ProgressCallback):
        super().__init__()
        self.logger, self.cfg, self.steps_per_epoch, self.on_progress = logger, cfg, steps_per_epoch, on_progress
        self.batch_loss = BatchLoss(n_train, cfg.batch_size)
        # Only schedules move the rate within an epoch; otherwise reading it once an epoch is enough,
        # and batch_lr is logged only when it changes (each read and each stored metric costs time).
        self.rate_moves_per_step = cfg.schedule in ("cyclic", "one_cycle", "cosine")
        self.epoch, self.step, self.lr, self.logged_lr, self.latest = 0, 0, 0.0, None, {}

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.epoch_started = epoch + 1, time.monotonic()
        self.batch_loss.reset()
        self.lr = current_lr(self.model)

    def on_train_batch_begin(self, batch, logs=None):
        if self.rate_moves_per_step:
            self.lr = current_lr(self.model)

    def on_train_batch_end(self, batch, logs=None):
        loss = self.batch_loss.update(batch, float(logs["loss"]))
        self.step += 1
        values = {"batch_loss": loss}
        if self.lr != self.logged_lr:
            values["batch_lr"] = self.logged_lr = self.lr
        self.logger.log_metrics(values, step=self.step)
        self._report("batch", batch + 1, {"batch_loss": loss, "batch_lr": self.lr})

    def on_epoch_end(self, epoch, logs=None):
        values = {key: float(value) for key, value in (logs or {}).items() if key != "learning_rate"}
        values["lr"] = self.lr
        values["epoch_seconds"] = time.monotonic() - self.epoch_started
        self.latest = values
        self.logger.log_metrics(values, step=epoch + 1)
        self.logger.flush()
        self._report("epoch", self.steps_per_epoch, values)

    def _report(self, event: str, batch: int, metrics: dict[str, float]) -> None:
        elapsed = time.monotonic() - self.started
        total = self.cfg.epochs * self.steps_per_epoch
        eta = elapsed / self.step * (total - self.step) if self.step else None
        self.on_progress(Progress("training", self.epoch, self.cfg.epochs, batch, self.steps_per_epoch, elapsed, eta,
                                  metrics, event, self.step))


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


def train(
    cfg: TrainConfig,
    *,
    tracking_uri: str | None = None,
    experiment: str = tracking.DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    on_run_created: Callable[[str], None] | None = None,
) -> RunResult:
    """Train, evaluate and log one run. Safe to call from a worker thread."""
    cancel = cancel or threading.Event()
    report = on_progress or (lambda progress: None)
    client = tracking.make_client(tracking_uri)
    logger = tracking.start_run(client, cfg, experiment, run_name, tags)
    if on_run_created:
        on_run_created(logger.run_id)
    metrics: dict[str, float] = {}
    try:
        metrics = _train_logged(cfg, logger, cancel, report)
    except Cancelled:
        logger.finish("KILLED", "Cancelled by the user.")
        report(Progress("cancelled"))
        return RunResult(logger.run_id, "KILLED", metrics, "Cancelled by the user.")
    except Exception as error:  # every failure must end the run, never leave it RUNNING
        message = f"{type(error).__name__}: {error}"
        try:
            logger.log_text(traceback.format_exc(), "error.txt")
        finally:
            logger.finish("FAILED", message)
        report(Progress("failed"))
        return RunResult(logger.run_id, "FAILED", metrics, message)
    logger.finish("FINISHED")
    report(Progress("finished", metrics=metrics))
    return RunResult(logger.run_id, "FINISHED", metrics)


def _train_logged(cfg: TrainConfig, logger: tracking.RunLogger, cancel: threading.Event, report: ProgressCallback) -> dict:
    report(Progress("loading data"))
    data = load_data(cfg)
    _check(cancel)
    fingerprint = data.fingerprint()
    logger.set_tags({tracking.DATA_FINGERPRINT_TAG: fingerprint, tracking.TEST_FINGERPRINT_TAG: data.test_fingerprint(),
                     "cnnkit.input_shape": "x".join(map(str, data.input_shape))})
    logger.log_json(list(data.class_names), "dataset/class_names.json")
    logger.log_json(
        {"name": data.name, "input_shape": data.input_shape, "splits": data.split_counts(), "fingerprint": fingerprint},
        "dataset/summary.json",
    )

    report(Progress("building model"))
    keras.utils.set_random_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, steps_per_epoch)
    summary: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: summary.append(line))
    logger.log_text("\n".join(summary), "model/summary.txt")
    logger.log_metrics({"param_count": model.count_params()}, step=0)

    monitor = RunMonitor(logger, cfg, len(data.x_train), steps_per_epoch, report)
    validation = (data.x_val, one_hot(data.y_val, data.num_classes)) if len(data.x_val) else None
    model.fit(
        data.x_train,
        one_hot(data.y_train, data.num_classes),
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        validation_data=validation,
        shuffle=True,
        verbose=0,
        callbacks=[CancelCheck(cancel), monitor, *training_callbacks(cfg)],
    )

    report(Progress("evaluating", monitor.epoch, cfg.epochs, steps_per_epoch, steps_per_epoch))
    probabilities = model.predict(data.x_test, batch_size=max(256, cfg.batch_size), verbose=0, callbacks=[CancelCheck(cancel)])
    result = evaluate(data.y_test, probabilities, data.class_names)
    metrics = {**{f"final_{k}": v for k, v in monitor.latest.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")},
               **result.metrics(), "epochs_trained": monitor.epoch}
    logger.log_metrics(metrics, step=monitor.epoch)
    logger.log_json({"class_names": list(data.class_names), "matrix": result.confusion.tolist()}, "evaluation/confusion_matrix.json")
    logger.log_table(result.per_class, "evaluation/per_class.csv")
    logger.log_table(result.mistakes, "evaluation/mistakes.csv")
    shown = result.mistakes["index"].to_numpy()[:MISTAKE_IMAGES]
    logger.log_arrays({"index": shown, "images": data.x_test[shown]}, "evaluation/mistake_images.npz")

    report(Progress("saving", monitor.epoch, cfg.epochs, steps_per_epoch, steps_per_epoch))
    logger.log_model(model)
    logger.flush()
    return metrics


def _check(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise Cancelled()


# ---- learning-rate range test ----------------------------------------------------------


@dataclass(frozen=True)
class RangeTest:
    learning_rates: np.ndarray
    losses: np.ndarray
    suggestion: LRSuggestion


class _RangeRecorder(keras.callbacks.Callback):
    """Records (lr, batch loss) and stops at the step budget or when the loss explodes."""

    def __init__(self, n_train: int, batch_size: int, steps: int, cancel: threading.Event):
        super().__init__()
        self.batch_loss, self.steps, self.cancel = BatchLoss(n_train, batch_size), steps, cancel
        self.lrs: list[float] = []
        self.losses: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.batch_loss.reset()

    def on_train_batch_begin(self, batch, logs=None):
        self.lr = current_lr(self.model)

    def on_train_batch_end(self, batch, logs=None):
        _check(self.cancel)
        loss = self.batch_loss.update(batch, float(logs["loss"]))
        self.lrs.append(self.lr)
        self.losses.append(loss)
        diverged = not math.isfinite(loss) or (len(self.losses) > 10 and loss > 4 * min(self.losses))
        if len(self.losses) >= self.steps or diverged:
            raise _RangeDone()


class _RangeDone(Exception):
    pass


def lr_range_test(
    cfg: TrainConfig, *, start_lr: float = 1e-6, end_lr: float = 1.0, steps: int = 100,
    cancel: threading.Event | None = None, data: Dataset | None = None,
) -> RangeTest:
    """Smith's learning-rate range test: train briefly while the rate grows geometrically from
    `start_lr` to `end_lr`, recording the loss of each batch."""
    data = data or load_data(cfg)
    keras.utils.set_random_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, steps_per_epoch, rate=ExponentialRamp(start_lr, end_lr, steps))
    recorder = _RangeRecorder(len(data.x_train), cfg.batch_size, steps, cancel or threading.Event())
    try:
        model.fit(data.x_train, one_hot(data.y_train, data.num_classes), batch_size=cfg.batch_size,
                  epochs=math.ceil(steps / steps_per_epoch), shuffle=True, verbose=0, callbacks=[recorder])
    except _RangeDone:
        pass
    lrs, losses = np.array(recorder.lrs), np.array(recorder.losses)
    return RangeTest(lrs, losses, suggest_lr_range(lrs, losses))

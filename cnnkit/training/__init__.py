"""From a config to a finished, logged run, plus the learning-rate range test.

`train` never lets an exception escape: a run that raises ends FAILED with its message,
a cancelled run ends KILLED, and both keep everything they logged so far.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from cnnkit import full_disk, tracking
from cnnkit.tracking import run_schema
from cnnkit.training import accelerators, checkpoint, forks
from cnnkit.models.architectures import build_model, resolve_knobs
from cnnkit.config import TrainConfig
from cnnkit.config.data_loading import load_data
from cnnkit.datasets import Dataset
from cnnkit.training.epoch_snapshots import EpochSnapshots
from cnnkit.errors import InputError, one_line
from cnnkit.training.evaluation import evaluate
from cnnkit.tracking.heartbeat import Heartbeat, stale_after_seconds
from cnnkit.tracking.lineage import lineage_tags
from cnnkit.models.schedules import ExponentialRamp, LRSuggestion, suggest_lr_range
from cnnkit.training.tricks import PER_STEP_SCHEDULES, input_layers, make_optimizer, schedule_preview

log = logging.getLogger(__name__)

MISTAKE_IMAGES = 100  # misclassified test images kept with a run for galleries
REPORT_SECONDS = 0.25  # batch progress reaches the live view and the store at most this often


@dataclass(frozen=True)
class Progress:
    """A snapshot of where a run is, for progress bars and live views."""

    phase: str  # loading data, building model, training, validating, snapshotting, evaluating, saving, finished, ...
    epoch: int = 0  # 1-based epoch in progress
    epochs: int = 0
    batch: int = 0  # batches done in this epoch
    batches: int = 0  # batches per epoch
    elapsed_s: float = 0.0
    eta_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # this batch's or this epoch's values
    event: str = "phase"  # "batch" for new batch losses, "epoch" after each epoch, "pass" within a pass, else "phase"
    step: int = 0  # optimizer steps done so far
    batch_points: tuple[tuple[int, float, float], ...] = ()  # "batch" events: (step, batch_loss, batch_lr) since the last
    device: str = ""  # what the run trains on, once the model is built, e.g. "GPU: NVIDIA H200" or "CPU (2 cores)"
    pass_batch: int = 0  # validating / evaluating: batches of that pass done
    pass_batches: int = 0  # ... of this many (0 outside such a pass)
    pass_images: int = 0  # images the pass goes through

    @property
    def fraction(self) -> float:
        total = self.epochs * self.batches
        return 0.0 if not total else min(1.0, ((self.epoch - 1) * self.batches + self.batch) / total)

    @property
    def pass_fraction(self) -> float:
        """How far a validation or evaluation pass has got, 0..1 (0 outside one)."""
        return min(1.0, self.pass_batch / self.pass_batches) if self.pass_batches else 0.0

    def describe(self) -> str:
        """Where the run is, in a few words for a person."""
        if self.phase == "training" and self.epochs:
            return f"epoch {self.epoch}/{self.epochs} · batch {self.batch}/{self.batches}"
        if self.phase == "validating":
            return (f"validating on {self.pass_images:,} images after epoch {self.epoch}/{self.epochs} · "
                    f"batch {self.pass_batch}/{self.pass_batches}")
        if self.phase == "evaluating" and self.pass_batches:
            return f"evaluating on {self.pass_images:,} test images · batch {self.pass_batch}/{self.pass_batches}"
        if self.phase == "snapshotting":
            return (f"snapshot after epoch {self.epoch}/{self.epochs}: predicting {self.pass_images:,} test images · "
                    f"batch {self.pass_batch}/{self.pass_batches}")
        return self.phase

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Progress:
        values = json.loads(text)
        return cls(**{**values, "batch_points": tuple(tuple(point) for point in values.get("batch_points", ()))})


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str  # FINISHED, FAILED or KILLED
    metrics: dict[str, float]
    error: str | None = None


class Cancelled(Exception):
    """Raised inside fit by the cancel check, so training stops within one batch."""


USER_CANCEL = "Cancelled by the user."


class StopRequest(threading.Event):
    """A cancel event that says why: its `reason` becomes the note of the run that ends KILLED.
    `train` also takes a plain Event, which stands for a person's cancel."""

    def __init__(self):
        super().__init__()
        self.reason = USER_CANCEL

    def stop(self, reason: str = USER_CANCEL) -> None:
        """Ask the run to stop; the first reason given is kept."""
        if not self.is_set():
            self.reason = reason
        self.set()


class LossDiverged(Exception):
    """The training loss became NaN or infinite: the run cannot recover, so it stops there."""

    def __init__(self, epoch: int, batch: int, loss: float):
        what = "NaN" if math.isnan(loss) else "infinite"
        super().__init__(f"loss became {what} at epoch {epoch}, batch {batch} — lower the learning rate "
                         "(or use gradient clipping)")


ProgressCallback = Callable[[Progress], None]


def build(cfg: TrainConfig, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The config's network with its input layers (pre-filter, augmentation, normalisation)."""
    knobs = resolve_knobs(cfg.arch, cfg.activation, cfg.batch_norm, cfg.dropout_scale, cfg.width)
    return build_model(cfg.arch, input_shape, num_classes, knobs, preprocessing=input_layers(cfg, input_shape),
                       precision=cfg.precision)


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


class RatePlan:
    """The learning rate at any optimizer step, without asking the device: a per-step schedule
    is tabulated once up front, and a constant or plateau rate (the plateau callback changes
    it only between epochs) is read once at the start of each epoch."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int):
        self.table = schedule_preview(cfg, steps_per_epoch) if cfg.schedule in PER_STEP_SCHEDULES else None
        self.epoch_rate = cfg.learning_rate

    def start_epoch(self, model: keras.Model) -> None:
        if self.table is None:
            self.epoch_rate = current_lr(model)

    def at(self, step: int) -> float:
        """The rate optimizer step `step` (0-based) trains with."""
        return self.epoch_rate if self.table is None else float(self.table[min(step, len(self.table) - 1)])


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
        self.latest = values
        if epoch + 1 > self.logged_epochs:
            self.logger.log_metrics(values, step=epoch + 1)
        self.logger.flush()
        self._report("epoch", self.steps_per_epoch, values)

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


# The attributes of the training callbacks that carry over from one epoch to the next (checkpoints).
_CARRIED_STATE = {keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
                  keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch")}


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
    run_id: str | None = None,
) -> RunResult:
    """Train, evaluate and log one run. Safe to call from a worker thread. With `run_id`, the run is
    one created for this worker (`RunStore.schedule_run`, which logged the config) instead of a new one."""
    store = tracking.RunStore(tracking_uri)
    logger = store.attach_run(run_id) if run_id else store.start_run(cfg, experiment, run_name, tags, stop=cancel)
    return _run_to_the_end(cfg, logger, checkpoint.folder(tracking_uri, logger.run_id), None, cancel, on_progress,
                           on_run_created)


def resume(
    run_id: str,
    *,
    tracking_uri: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    on_run_created: Callable[[str], None] | None = None,
) -> RunResult:
    """Continue run `run_id`, which a crash or a stop interrupted, from its last checkpoint, in the
    same MLflow run: the epochs left are trained and logged after those it has, then it is evaluated.
    Raises InputError, before touching the run, when it can't be resumed (see `resumable`)."""
    store = tracking.RunStore(tracking_uri)
    saved = resumable(run_id, tracking_uri)
    cfg = store.config_of_run(run_id)
    logger = store.reopen_run(run_id, {run_schema.RESUMED_FROM_EPOCH_TAG: saved.epoch})
    return _run_to_the_end(cfg, logger, checkpoint.folder(tracking_uri, run_id), saved, cancel, on_progress,
                           on_run_created)


def fork(
    parent_run_id: str,
    epoch: int,
    changes: dict[str, object] | None = None,
    *,
    tracking_uri: str | None = None,
    experiment: str = tracking.DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    on_run_created: Callable[[str], None] | None = None,
) -> RunResult:
    """A new run that starts from run `parent_run_id`'s snapshot after `epoch`, its weights and optimizer
    state, with `changes` to its settings (see `forks.fork_config`); its epochs continue from `epoch`
    and it is tagged with its parent and that epoch. Raises InputError, before any run is created,
    when the fork can't be made (see `forkable`)."""
    store = tracking.RunStore(tracking_uri)
    cfg = forkable(parent_run_id, epoch, changes or {}, tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = store.download_snapshot(parent_run_id, epoch, Path(tmp))
        logger = store.start_run(cfg, experiment, run_name, lineage_tags(parent_run_id, epoch))
        run_folder = checkpoint.folder(tracking_uri, logger.run_id)
        run_folder.mkdir(parents=True, exist_ok=True)
        start = shutil.move(snapshot, run_folder / f"parent-{snapshot.name}")  # removed with the run's checkpoint
    saved = checkpoint.Saved(epoch, training_done=False, weights=Path(start),
                             name=tracking.snapshot_name(parent_run_id, epoch))
    return _run_to_the_end(cfg, logger, run_folder, saved, cancel, on_progress, on_run_created, fork=True)


def forkable(parent_run_id: str, epoch: int, changes: dict[str, object], tracking_uri: str | None = None) -> TrainConfig:
    """The config of a fork of run `parent_run_id` from `epoch` with `changes`; InputError when the
    run has no snapshot after that epoch or a change doesn't fit the snapshot."""
    store = tracking.RunStore(tracking_uri)
    forks.check_epoch(parent_run_id, epoch, store.snapshot_epochs(parent_run_id))
    return forks.fork_config(store.config_of_run(parent_run_id), epoch, changes)


def resumable(run_id: str, tracking_uri: str | None = None) -> checkpoint.Saved:
    """Run `run_id`'s checkpoint, when the run stopped (KILLED or FAILED, or left RUNNING by a
    process that is gone) and has one; else InputError saying why not."""
    run_folder = checkpoint.folder(tracking_uri, run_id)
    store = tracking.RunStore(tracking_uri)
    store.kill_stale_runs()  # a run whose worker died (no heartbeat) is KILLED from here on
    status = store.run_status(run_id)
    if status == "RUNNING":
        raise InputError(f"Run {run_id} is still running; stop it before resuming it (a run whose worker died counts "
                         f"as running until it has missed its heartbeat for {stale_after_seconds():.0f} s).")
    if status == "FINISHED":
        raise InputError(f"Run {run_id} has finished; there is nothing to resume.")
    saved = checkpoint.load(run_folder)
    if saved is None:
        raise InputError(f"Run {run_id} has no checkpoint to resume from: {_why_no_checkpoint(store, run_id, run_folder)}")
    return saved


def _why_no_checkpoint(store: tracking.RunStore, run_id: str, run_folder: Path) -> str:
    """Why run `run_id`, stopped, has no checkpoint in `run_folder`, judged by the epochs the store holds."""
    epochs = store.last_logged_step(run_id, run_schema.LOSS)
    if not epochs:
        return "it stopped before its first epoch ended."
    return (f"its epochs up to epoch {epochs} are logged, but no checkpoint of them is in {run_folder}: it was "
            "deleted, the run was trained on another machine or with another store folder, or it stopped before its "
            f"first save (a checkpoint is saved at most every {checkpoint.seconds_between_saves():g} s, "
            f"{checkpoint.SECONDS_VARIABLE}).")


# What a run was doing in each phase, for the message when the disk fills up.
_ACTIVITIES = {"training": "training (saving the epoch's checkpoint or logging metrics)",
               "saving": "saving the run's results and model"}


def failure_message(error: BaseException, phase: str) -> str:
    """One line for a person on why a run failed while in `phase` (a Progress phase)."""
    if isinstance(error, (LossDiverged, InputError)):
        return str(error)
    if full_disk.is_disk_full(error):
        place = full_disk.full_place(error)
        return (f"no space left on device{f' in {place}' if place else ''} while {_ACTIVITIES.get(phase, phase)} — "
                "free some disk space, then resume the run or train again")
    return f"{type(error).__name__}: {error}"


def _run_to_the_end(cfg: TrainConfig, logger: tracking.RunLogger, run_folder, saved: checkpoint.Saved | None,
                    cancel: threading.Event | None, on_progress: ProgressCallback | None,
                    on_run_created: Callable[[str], None] | None, fork: bool = False) -> RunResult:
    """Train (or continue) the run `logger` writes to and end it FINISHED, FAILED or KILLED; never raises
    for a failed run. The checkpoint in `run_folder` is kept for `resume` unless the run finished or
    its loss diverged. A `fork` starts from `saved`, its parent's snapshot, at its own learning rate."""
    cancel = cancel or threading.Event()
    logger.patience.stop = cancel  # a stop ends any wait for a busy store
    phase = "starting"
    heartbeat = Heartbeat(logger)

    def report(progress: Progress) -> None:
        nonlocal phase
        phase = progress.phase
        heartbeat.report(progress)
        if on_progress:
            on_progress(progress)

    if on_run_created:
        on_run_created(logger.run_id)
    metrics: dict[str, float] = {}
    try:
        with heartbeat, accelerators.data_parallel(cfg.devices):
            metrics = _train_logged(cfg, logger, cancel, report, run_folder, saved, fork)
    except (Cancelled, tracking.StoreWaitStopped):  # a stop (`cancel`, the patience's `stop`) ends a store wait too
        reason = getattr(cancel, "reason", USER_CANCEL)
        _end_run(logger, "KILLED", reason)
        report(Progress("cancelled"))
        return RunResult(logger.run_id, "KILLED", metrics, reason)
    except Exception as error:  # every failure must end the run, never leave it RUNNING
        message = failure_message(error, phase)
        try:
            logger.log_text(traceback.format_exc(), run_schema.ERROR_TRACEBACK)
        except Exception as unsaved:  # the disk or the store may be what failed: the run must still end
            log.warning("Could not save error.txt for run %s: %s", logger.run_id, one_line(unsaved))
        _end_run(logger, "FAILED", message)
        if isinstance(error, LossDiverged):  # resuming would only diverge again
            checkpoint.remove(run_folder)
        report(Progress("failed"))
        return RunResult(logger.run_id, "FAILED", metrics, message)
    _end_run(logger, "FINISHED")
    checkpoint.remove(run_folder)
    report(Progress("finished", metrics=metrics))
    return RunResult(logger.run_id, "FINISHED", metrics)


def _end_run(logger: tracking.RunLogger, status: str, note: str | None = None) -> None:
    """End the run in the store; when the store can't be written, say so in the log and go on
    (the run stays RUNNING there until `kill_stale_runs` finds its heartbeat stopped)."""
    try:
        logger.finish(status, note)
    except Exception as error:  # one line: the run's own error has been said already
        log.warning("Could not end run %s as %s: %s", logger.run_id, status, one_line(error))


def _train_logged(cfg: TrainConfig, logger: tracking.RunLogger, cancel: threading.Event, report: ProgressCallback,
                  run_folder, saved: checkpoint.Saved | None, fork: bool = False) -> dict:
    report(Progress("loading data"))
    data = load_data(cfg)
    _check(cancel)
    fingerprint = data.fingerprint()
    logger.set_tags({run_schema.DATA_FINGERPRINT_TAG: fingerprint,
                     run_schema.TEST_FINGERPRINT_TAG: data.test_fingerprint(),
                     run_schema.INPUT_SHAPE_TAG: "x".join(map(str, data.input_shape))})
    logger.log_json(list(data.class_names), run_schema.CLASS_NAMES)
    logger.log_json(
        {"name": data.name, "input_shape": data.input_shape, "splits": data.split_counts(), "fingerprint": fingerprint},
        run_schema.DATASET_SUMMARY,
    )
    data = split_evenly(data, cfg.devices)

    device = accelerators.describe_devices(cfg.devices)
    logger.set_tags({run_schema.DEVICE_TAG: device, run_schema.DEVICE_COUNT_TAG: str(cfg.devices)})
    report(Progress("building model", device=device))
    keras.utils.set_random_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, steps_per_epoch)
    summary: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: summary.append(line))
    logger.log_text("\n".join(summary), run_schema.MODEL_SUMMARY)
    initial_epoch = saved.epoch if saved else 0
    logged_epochs = logged_steps = 0
    if saved is not None:  # what the interrupted process logged after its last checkpoint is kept, not logged twice
        logged_epochs = logger.store.last_logged_step(logger.run_id, run_schema.LOSS)
        logged_steps = logger.store.last_logged_step(logger.run_id, run_schema.BATCH_LOSS)
    if saved is not None and not fork:
        _say_missing_epochs(logger, saved.epoch)
    if not logged_steps:  # a new run, a fork too (its saved state is its parent's snapshot)
        logger.log_metrics({run_schema.PARAM_COUNT: model.count_params()}, step=0)

    monitor = RunMonitor(logger, cfg, len(data.x_train), steps_per_epoch, report, initial_epoch=initial_epoch,
                         logged_epochs=logged_epochs, logged_steps=logged_steps)
    carried = training_callbacks(cfg)
    stateful = {"monitor": (monitor, ("latest",)), **{type(callback).__name__: (callback, _CARRIED_STATE[type(callback)])
                                                        for callback in carried}}
    saver = checkpoint.EpochCheckpoint(run_folder, stateful, resume_from=saved,
                                      every_seconds=checkpoint.seconds_between_saves(),
                                      before_save=lambda: logger.flush(wait=True))  # never ahead of the store
    validation = (data.x_val, one_hot(data.y_val, data.num_classes)) if len(data.x_val) else None

    def snapshot_probabilities(snapshot_model: keras.Model, epoch: int) -> np.ndarray:
        def snapshotting(done: int, batches: int) -> None:
            report(Progress("snapshotting", epoch, cfg.epochs, steps_per_epoch, steps_per_epoch, event="pass",
                            pass_batch=done, pass_batches=batches, pass_images=len(data.x_test)))

        return predict_test_images(snapshot_model, data.x_test, cfg, cancel, on_batches=snapshotting)

    # Before the carried callbacks: a snapshot when fit ends is taken before early stopping restores its best weights.
    snapshots = [EpochSnapshots(cfg.snapshot_every, cfg.epochs, snapshot_probabilities, logger.log_file,
                                logger.log_arrays)] if cfg.snapshot_every else []
    own_rate = []  # after the saver: a fork's parent's rate comes back with its optimizer's state; the fork has its own
    if fork and cfg.schedule not in PER_STEP_SCHEDULES:
        own_rate.append(keras.callbacks.LambdaCallback(
            on_train_begin=lambda logs: setattr(model.optimizer, "learning_rate", cfg.learning_rate)))
    if saved is not None and saved.training_done:  # it was stopped while evaluating: only that is left
        saver.set_model(model)
        saver.on_train_begin()
    else:
        try:
            model.fit(
                data.x_train,
                one_hot(data.y_train, data.num_classes),
                batch_size=cfg.batch_size,
                epochs=cfg.epochs,
                initial_epoch=initial_epoch,
                validation_data=validation,
                shuffle=True,
                verbose=0,
                callbacks=[CancelCheck(cancel), monitor, monitor.validation_monitor(len(data.x_val)), *snapshots,
                           *carried, saver, *own_rate],
            )
        finally:
            monitor.close()
    if cfg.ema_momentum:
        _unshare_averaged_weights(model)

    def evaluating(done: int, batches: int) -> None:
        report(Progress("evaluating", monitor.epoch, cfg.epochs, steps_per_epoch, steps_per_epoch, event="pass",
                        pass_batch=done, pass_batches=batches, pass_images=len(data.x_test)))

    probabilities = predict_test_images(model, data.x_test, cfg, cancel, on_batches=evaluating)
    result = evaluate(data.y_test, probabilities, data.class_names)
    metrics = {**{run_schema.FINAL_PREFIX + key: value for key, value in monitor.latest.items()
                  if key in run_schema.FINAL_METRICS},
               **result.metrics(), run_schema.EPOCHS_TRAINED: monitor.epoch}
    logger.log_metrics(metrics, step=monitor.epoch)
    report(Progress("saving", monitor.epoch, cfg.epochs, steps_per_epoch, steps_per_epoch))
    logger.log_json({"class_names": list(data.class_names), "matrix": result.confusion.tolist()},
                    run_schema.CONFUSION_MATRIX)
    logger.log_table(result.per_class, run_schema.PER_CLASS)
    logger.log_table(result.mistakes, run_schema.MISTAKES)
    shown = result.mistakes["index"].to_numpy()[:MISTAKE_IMAGES]
    logger.log_arrays({"index": shown, "images": data.x_test[shown]}, run_schema.MISTAKE_IMAGES)

    logger.log_model(model)
    logger.flush()
    return metrics


def _say_missing_epochs(logger: tracking.RunLogger, checkpoint_epoch: int) -> None:
    """A resumed run whose store lacks epochs its checkpoint holds (a checkpoint written before the
    store held them, by an older cnnkit) says which, in tag MISSING_EPOCHS_TAG and the log."""
    logged = set(logger.store.logged_steps(logger.run_id, run_schema.LOSS))
    missing = [epoch for epoch in range(1, checkpoint_epoch + 1) if epoch not in logged]
    if missing:
        which = (f"epochs {_spans(missing)} were", "their") if len(missing) > 1 else (f"epoch {missing[0]} was", "its")
        note = (f"{which[0]} trained but never logged: the store lacks {which[1]} metrics (the process ended before "
                f"it wrote them); the run went on from its checkpoint after epoch {checkpoint_epoch}")
        log.warning("Run %s: %s", logger.run_id, note)
        logger.set_tags({run_schema.MISSING_EPOCHS_TAG: note})


def _spans(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in spans)


def split_evenly(data: Dataset, devices: int) -> Dataset:
    """`data` with its training and validation images cut to a multiple of `devices` (at most
    `devices` - 1 of each left out), so that every batch, the last one too, splits evenly among the
    devices of a data-parallel run. The test images are all kept (see `predict_test_images`)."""
    if devices == 1:
        return data
    n_train, n_val = len(data.x_train) - len(data.x_train) % devices, len(data.x_val) - len(data.x_val) % devices
    return dataclasses.replace(data, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                               x_val=data.x_val[:n_val], y_val=data.y_val[:n_val])


def _unshare_averaged_weights(model: keras.Model) -> None:
    """Give the weights their own buffers after fit has swapped the EMA averages in. Keras assigns
    each average to its weight, so on JAX both share one device buffer; the next predict donates
    the weights' buffers, deleting the optimizer's averages with them, and saving then fails
    ("Array has been deleted")."""
    for variable in model.trainable_variables:
        variable.assign(keras.ops.copy(variable))


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
    # One step per execution: the recorder must see, and may stop at, every step.
    compile_model(model, cfg.replace(steps_per_execution=1), steps_per_epoch, rate=ExponentialRamp(start_lr, end_lr, steps))
    recorder = _RangeRecorder(len(data.x_train), cfg.batch_size, steps, cancel or threading.Event())
    try:
        model.fit(data.x_train, one_hot(data.y_train, data.num_classes), batch_size=cfg.batch_size,
                  epochs=math.ceil(steps / steps_per_epoch), shuffle=True, verbose=0, callbacks=[recorder])
    except _RangeDone:
        pass
    lrs, losses = np.array(recorder.lrs), np.array(recorder.losses)
    return RangeTest(lrs, losses, suggest_lr_range(lrs, losses))

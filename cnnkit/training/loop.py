"""From a config to a finished, logged run: train a new run, resume a stopped one from its checkpoint,
or fork one from a run's snapshot.

`train` never lets an exception escape: a run that raises ends FAILED with its message,
a cancelled run ends KILLED, and both keep everything they logged so far.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Callable

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError, one_line
from cnnkit.tracking import Heartbeat, lineage_tags, run_schema, stale_after_seconds
import cnnkit.training.accelerators as accelerators
import cnnkit.training.checkpoint as checkpoint
import cnnkit.training.forks as forks
from cnnkit.training.failures import LossDiverged, failure_message
from cnnkit.training.logged_training import train_logged
from cnnkit.training.progress import USER_CANCEL, Cancelled, Progress, ProgressCallback, RunResult

log = logging.getLogger(__name__)


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
    clock = _parent_clock(store, parent_run_id, epoch)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = store.download_snapshot(parent_run_id, epoch, Path(tmp))
        logger = store.start_run(cfg, experiment, run_name, lineage_tags(parent_run_id, epoch))
        run_folder = checkpoint.folder(tracking_uri, logger.run_id)
        run_folder.mkdir(parents=True, exist_ok=True)
        start = shutil.move(snapshot, run_folder / f"parent-{snapshot.name}")  # removed with the run's checkpoint
    saved = checkpoint.Saved(epoch, training_done=False, weights=Path(start), callbacks=clock,
                             name=tracking.snapshot_name(parent_run_id, epoch))
    return _run_to_the_end(cfg, logger, run_folder, saved, cancel, on_progress, on_run_created, fork=True)


def _parent_clock(store: tracking.RunStore, parent_run_id: str, epoch: int) -> dict:
    """The monitor's state a fork starts from: its parent's clock after `epoch` and the thresholds the parent
    had reached by then, whose times the fork logs as its own (its curve continues the parent's); {} for a
    parent without a clock."""
    epochs = store.epoch_history(parent_run_id)
    before = epochs[epochs["epoch"] <= epoch]
    if run_schema.ELAPSED_SECONDS not in before or before[run_schema.ELAPSED_SECONDS].isna().any() or before.empty:
        return {}
    return {"monitor": {"latest": {run_schema.ELAPSED_SECONDS: float(before[run_schema.ELAPSED_SECONDS].iloc[-1])},
                        "reached": tracking.threshold_times(before)}}


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
        with heartbeat, tracking.SystemMetrics(logger), accelerators.data_parallel(cfg.devices):
            metrics = train_logged(cfg, logger, cancel, report, run_folder, saved, fork)
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

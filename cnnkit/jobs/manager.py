"""The job manager: training runs and learning-rate range tests, a few at once, the rest waiting
in one FIFO queue, watched through immutable snapshots.

The Streamlit app holds exactly one manager per process; nothing here knows about Streamlit.
Where a job trains is the runner's business (`runner`): this process's threads by default
(`thread_runner`), or a Ray cluster (`ray_runner`); the manager hears back through job events.
A new manager on a cluster adopts the jobs still there from before (an app restart): they show,
count and cancel as its own.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from cnnkit import tracking, training
import cnnkit.jobs.termination as termination
from cnnkit.config import ServerPaths, TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs.events import JobEnded, JobEvent, ProgressReported, RunCreated
from cnnkit.jobs.runner import JobSpec, Runner, RunningJob
from cnnkit.jobs.thread_runner import ThreadRunner
from cnnkit.training import Progress, RangeTest, RunResult

log = logging.getLogger(__name__)

BATCH_HISTORY_CAP = 20_000  # batch points kept per job; longer runs are thinned evenly (see _Job.record)
ACTIVE_STATES = ("queued", "running")


@dataclass(frozen=True)
class JobSnapshot:
    """One job as it was at one moment: a copy, safe to keep and read from any thread."""

    job_id: str
    kind: str  # one of SHOWN_KINDS, else "train" (a fork or resume trains a run too)
    name: str
    config: TrainConfig
    state: str  # queued, running, finished, failed, cancelled
    queue_position: int | None  # 1-based while queued, else None
    run_id: str | None  # the MLflow run, once train has created it (lr_find jobs have none)
    progress: Progress | None  # the latest report from train
    device: str  # what the job trains on, once train has said ("" until then)
    error: str | None  # why a failed job failed
    submitted_at: float  # time.time() values
    started_at: float | None
    ended_at: float | None
    epoch_history: tuple[dict[str, float], ...]  # {"epoch": n, **that epoch's metrics}
    batch_history: tuple[tuple[int, float, float], ...]  # (step, batch_loss, batch_lr), evenly thinned on long runs
    result: RunResult | RangeTest | None  # once ended: train's RunResult or the lr_find job's RangeTest
    cancel_requested: bool  # cancel was asked for; a running job is stopping
    visitor: str | None = None  # who launched it (None: the operator's own code)

    def may_be_cancelled_by(self, visitor: str | None) -> bool:
        """Whether `visitor` may cancel this job: its own, or any job for the operator (None)."""
        return visitor is None or self.visitor in (None, visitor)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def fraction(self) -> float:
        """How far the job got, 0..1 (lr_find jobs report no progress: 0 until finished)."""
        if self.state == "finished":
            return 1.0
        return self.progress.fraction if self.progress else 0.0

    @property
    def eta_s(self) -> float | None:
        return self.progress.eta_s if self.state == "running" and self.progress else None

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at or time.time()) - self.started_at


@dataclass(eq=False)
class _Job:
    """A job's live state. Only the manager touches it, always under its lock."""

    job_id: str
    kind: str
    name: str
    config: TrainConfig
    spec: JobSpec  # what its runner is given
    visitor: str | None = None  # who launched it, for the per-visitor cap
    on_progress: Callable[[Progress], None] | None = None  # a watcher's hook, called in the job's thread
    on_end: Callable[[JobSnapshot], None] | None = None  # called once the job has ended, outside the lock
    submitted_at: float = field(default_factory=time.time)
    cancel: training.StopRequest = field(default_factory=training.StopRequest)  # the flag; its runner maps it
    runner: Runner | None = None  # once started: where it runs, and its handle there
    handle: str = ""
    state: str = "queued"
    run_id: str | None = None
    progress: Progress | None = None
    device: str = ""
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    result: RunResult | RangeTest | None = None
    epochs: list[dict[str, float]] = field(default_factory=list)
    batches: list[tuple[int, float, float]] = field(default_factory=list)
    batch_stride: int = 1  # keep every batch_stride-th batch point
    batch_count: int = 0  # batch events seen

    def record(self, progress: Progress, cap: int) -> None:
        """Keep the latest progress and grow the histories from its epoch and batch events.

        Batch points are kept every `batch_stride` batches. When more than `cap` are kept,
        every other one is dropped and the stride doubles, so however long the run, at most
        `cap` evenly spaced points cover all of it.
        """
        self.progress = progress
        self.device = progress.device or self.device
        if progress.event == "epoch":
            self.epochs.append({"epoch": progress.epoch, **progress.metrics})
        for point in progress.batch_points:
            if self.batch_count % self.batch_stride == 0:
                self.batches.append(point)
                if len(self.batches) > cap:
                    del self.batches[1::2]
                    self.batch_stride *= 2
            self.batch_count += 1


VISITOR_CAP_VARIABLE = "CNNKIT_MAX_JOBS_PER_VISITOR"
DEFAULT_VISITOR_CAP = 4


def visitor_cap_from_environment() -> int | None:
    """The app's per-visitor cap on queued or running jobs: CNNKIT_MAX_JOBS_PER_VISITOR, default 4,
    0 for no cap."""
    text = os.environ.get(VISITOR_CAP_VARIABLE, str(DEFAULT_VISITOR_CAP)).strip()
    if not text.isdigit():
        raise InputError(f"{VISITOR_CAP_VARIABLE} must be a whole number (0 for no cap), got {text!r}.")
    return int(text) or None


def _check_concurrency(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"max_concurrent: must be a whole number of at least 1, got {n!r}.")


def _call_watcher(hook: Callable | None, value) -> None:
    """Call a watcher's hook (see `JobManager.submit`); its bugs are logged and never stop the job."""
    if hook is None:
        return
    try:
        hook(value)
    except Exception:
        log.exception("A job watcher's hook raised")


# Jobs that run in this process whatever the runner: a range test's result and a fork's parent snapshot are
# read here (a cluster's workers train new runs, resume their own and sweep finished ones).
IN_APP_KINDS = ("lr_find", "fork")
SHOWN_KINDS = ("lr_find", "corruptions")  # job kinds shown as themselves, submitted or adopted after a restart


class JobManager:
    """Runs jobs through its runner, at most `slots()` at once (the runner's capacity where it has one,
    a cluster's job slots; else `max_concurrent`), the rest queued first in, first out. Thread-safe:
    all shared state sits behind one lock, and callers only ever see `JobSnapshot` copies.

    `runner` is where training jobs go (None: daemon threads of this process, a `ThreadRunner`);
    learning-rate range tests always run in this process, their result being in memory.

    `max_active_per_visitor` caps the jobs one visitor (the `visitor` given to `submit`) may have
    queued or running at once, so one browser cannot fill the queue; None: no cap.

    `server_paths` is where a job's dataset path may point (None: anywhere, the operator's own code);
    every job, whatever starts it (a form, an ablation, a search, a fork, a resume), is refused with an
    InputError naming "Path on this machine" when its config's path lies outside, and its runner
    is handed the policy (a cluster's worker checks again).

    `trainer` and `range_tester` stand in for `training.train` and `training.lr_range_test`
    (tests inject fakes), `resumer` for `training.resume`, in the thread runner. On construction it lets concurrent
    jobs share a GPU, unless `recover_stale_runs` is False ends the runs a dead process left
    RUNNING in the store (their ids: `recovered_runs`), and has its jobs stopped, their runs
    ending KILLED, when the process gets SIGTERM or SIGINT or exits (see `termination`). With a
    detached runner (a cluster) it then adopts the jobs still queued or running there (`runner.running_jobs`,
    from an earlier process of the app): they are running jobs of the operator's, watched, counted against
    `slots()` and cancelled like the ones submitted here.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str = tracking.DEFAULT_EXPERIMENT,
        max_concurrent: int = 2,
        trainer: Callable[..., RunResult] | None = None,
        range_tester: Callable[..., RangeTest] | None = None,
        resumer: Callable[..., RunResult] | None = None,
        *,
        recover_stale_runs: bool = True,
        batch_history_cap: int = BATCH_HISTORY_CAP,
        max_active_per_visitor: int | None = None,
        runner: Runner | None = None,
        server_paths: ServerPaths | None = None,
    ):
        _check_concurrency(max_concurrent)
        self.server_paths = server_paths or ServerPaths.anywhere()
        if max_active_per_visitor is not None:
            _check_concurrency(max_active_per_visitor)
        self.max_active_per_visitor = max_active_per_visitor
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self._local = ThreadRunner(trainer, range_tester, resumer)
        self.runner: Runner = runner or self._local
        self._max_concurrent, self._batch_history_cap = max_concurrent, batch_history_cap
        self._lock = threading.RLock()  # a runner may report (RunCreated) from within submit, lock held
        self._job_ended = threading.Condition(self._lock)
        self._jobs: dict[str, _Job] = {}  # in submission order
        self._queue: deque[_Job] = deque()
        self._running = 0
        self._unannounced: list[tuple[Callable, JobSnapshot]] = []  # on_end hooks of ended jobs, still to be called
        self._ids = itertools.count(1)
        self._closed = False
        from cnnkit.training import accelerators  # Keras: loaded by a manager, not by readers of job values

        accelerators.enable_memory_growth()
        self.recovered_runs: list[str] = (
            tracking.RunStore(tracking_uri).kill_stale_runs() if recover_stale_runs else []
        )
        for running in sorted(self.runner.running_jobs(), key=lambda job: job.submitted_at):
            self._adopt(running)
        termination.watch(self)

    # ---- submitting and controlling ------------------------------------------------

    def submit(self, cfg: TrainConfig, name: str | None = None, *, visitor: str | None = None,
               tags: dict[str, str] | None = None, on_progress: Callable[[Progress], None] | None = None,
               on_end: Callable[[JobSnapshot], None] | None = None) -> str:
        """Queue a training run (`name` becomes the MLflow run name, `tags` are added to its run);
        returns the job id. A watcher (e.g. a search) may pass `on_progress`, called with each report
        once it is recorded (a cancel from there stops the run before its next batch), and `on_end`,
        called with the ended job's snapshot, however it ended. Neither is called with the manager's
        lock held, and what they raise is logged, not passed on."""
        return self._submit("train", cfg, name or f"{cfg.arch} on {cfg.dataset}", visitor, tags=tags,
                            watch=dict(on_progress=on_progress, on_end=on_end))

    def submit_lr_find(self, cfg: TrainConfig, steps: int = 100, *, visitor: str | None = None) -> str:
        """Queue a learning-rate range test of `steps` batches; its RangeTest becomes the result."""
        if steps < 3:
            raise InputError(f"steps: the range test needs at least 3 steps, got {steps}.")
        return self._submit("lr_find", cfg, f"LR range test: {cfg.arch} on {cfg.dataset}", visitor, steps=steps)

    def resume(self, run_id: str, *, visitor: str | None = None) -> str:
        """Queue the continuation of run `run_id` from its checkpoint (see `training.resume`), in the
        same MLflow run, for `visitor` (see `submit`); returns the job id. InputError when the run
        can't be resumed, or a job of this manager is resuming it already (a second click while the
        first waits in the queue)."""
        with self._lock:
            if any(job.run_id == run_id and job.state in ACTIVE_STATES for job in self._jobs.values()):
                raise InputError(f"Run {run_id} is being resumed already.")
        training.resumable(run_id, self.tracking_uri)
        cfg = tracking.RunStore(self.tracking_uri).config_of_run(run_id)
        return self._submit("resume", cfg, f"{cfg.arch} on {cfg.dataset} (resumed)", visitor, run_id=run_id)

    def fork(self, run_id: str, epoch: int, changes: dict[str, object] | None = None, *,
             visitor: str | None = None) -> str:
        """Queue a new run from run `run_id`'s snapshot after `epoch` with `changes` to its settings (see
        `training.fork`), for `visitor` (see `submit`); returns the job id. InputError when it can't be forked."""
        cfg = training.forkable(run_id, epoch, changes or {}, self.tracking_uri)
        name = f"{cfg.arch} on {cfg.dataset} (fork of {run_id[:6]} at epoch {epoch})"
        return self._submit("fork", cfg, name, visitor, run_id=run_id, epoch=epoch, changes=dict(changes or {}))

    def submit_corruption_sweep(self, run_id: str, images: int | None = None, *, visitor: str | None = None) -> str:
        """Queue the corruption sweep (`training.sweep_run`) of finished run `run_id`; returns the job id."""
        cfg = tracking.RunStore(self.tracking_uri).config_of_run(run_id)
        return self._submit("corruptions", cfg, f"Corruption sweep: {cfg.arch} on {cfg.dataset}", visitor,
                            run_id=run_id, images=images)

    def cancel(self, job_id: str, *, visitor: str | None = None, reason: str = training.USER_CANCEL) -> None:
        """A queued job is dropped at once and never starts; a running one stops within a batch
        and turns "cancelled" when its run has ended KILLED (`reason` is its note). An ended job is
        left as it is. A `visitor` may cancel only the jobs it launched; without one, any job."""
        with self._lock:
            job = self._job(job_id)
            if not self._snapshot(job).may_be_cancelled_by(visitor):
                raise InputError(f"{job.name} was launched by another visitor: only they, or whoever runs this "
                                 "server, can cancel it.")
            self._cancel(job, reason)
        self._announce_ends()

    @property
    def max_concurrent(self) -> int:
        return self._max_concurrent

    def slots(self) -> int:
        """How many jobs it starts at once: the runner's capacity where the runner has one (a Ray
        cluster's job slots, shared by every app submitting there), else `max_concurrent`."""
        capacity = self.runner.capacity()
        return self._max_concurrent if capacity is None else capacity

    def slots_set_by_runner(self) -> bool:
        """Whether `slots()` is the runner's (a cluster's), not `max_concurrent`."""
        return self.runner.capacity() is not None

    def set_max_concurrent(self, n: int) -> None:
        """Allow `n` jobs at once (where the runner has no capacity of its own, see `slots`), starting
        queued jobs if there is now room. Lowering it lets running jobs finish; it only holds back the queue."""
        _check_concurrency(n)
        with self._lock:
            self._max_concurrent = n
            self._start_queued()
        self._announce_ends()

    def shutdown(self, cancel_running: bool = True, timeout: float | None = 30.0,
                 reason: str = training.USER_CANCEL) -> None:
        """Stop taking jobs, cancel the queued ones (and the running ones unless
        `cancel_running` is False; `reason` is their runs' note), and wait up to `timeout`
        seconds for the running ones to end."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                if job.state == "queued" or cancel_running:
                    self._cancel(job, reason)
            self._job_ended.wait_for(lambda: not any(job.state in ACTIVE_STATES for job in self._jobs.values()
                                                     if job.runner is not None and (cancel_running or not job.runner.detached)),
                                     timeout)

    def stop_all(self, reason: str, wait: bool) -> None:
        """The process is ending (`termination`): every job of this process stops, its run ends KILLED
        with `reason`; jobs on a cluster (a detached runner) go on there, and their runs with them."""
        self.shutdown(cancel_running=not self.runner.detached, timeout=60.0 if wait else 0.0, reason=reason)

    # ---- watching ------------------------------------------------------------------

    def snapshot(self, job_id: str) -> JobSnapshot:
        with self._lock:
            return self._snapshot(self._job(job_id))

    def find(self, job_id: str) -> JobSnapshot | None:
        """Like `snapshot`, but None for an id this manager doesn't know (e.g. one kept by a
        browser session from before a server restart)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return self._snapshot(job) if job is not None else None

    def snapshots(self) -> list[JobSnapshot]:
        """Every job this manager has seen, newest first."""
        with self._lock:
            return [self._snapshot(job) for job in reversed(self._jobs.values())]

    def wait(self, job_id: str, timeout: float | None = None) -> JobSnapshot:
        """Block until the job has ended or `timeout` seconds have passed; its snapshot then."""
        with self._lock:
            job = self._job(job_id)
            self._job_ended.wait_for(lambda: job.state not in ACTIVE_STATES, timeout)
            return self._snapshot(job)

    # ---- internals ("Lock held.": the caller must hold self._lock) ---------------------

    def _submit(self, kind: str, cfg: TrainConfig, name: str, visitor: str | None, *, run_id: str | None = None,
                steps: int = 0, epoch: int = 0, changes: dict[str, object] | None = None,
                tags: dict[str, str] | None = None, watch: dict | None = None, images: int | None = None) -> str:
        from cnnkit.training import accelerators

        self.server_paths.confine(cfg)  # every job's one way in: no page, ablation or search can skip it
        accelerators.check_device_count(cfg.devices)  # now, by the form, rather than as a failed run
        with self._lock:
            if self._closed:
                raise RuntimeError("The job manager has shut down.")
            self._check_visitor_cap(visitor)
            job_id = f"job-{next(self._ids)}"
            spec = JobSpec(job_id, kind, cfg, name, self.tracking_uri, self.experiment, run_id, steps, tags or None,
                           epoch, changes, images, self.server_paths)
            job = _Job(job_id, kind if kind in SHOWN_KINDS else "train", name, cfg, spec, visitor, run_id=run_id,
                       **(watch or {}))
            self._jobs[job.job_id] = job
            self._queue.append(job)
            self._start_queued()
        self._announce_ends()  # a runner that refused to start it
        return job.job_id

    def _adopt(self, running: RunningJob) -> None:
        """A job the runner still has from an earlier process: running here, the operator's (who launched it
        is not kept), its events through the same path as a submitted job's."""
        with self._lock:
            job_id = f"job-{next(self._ids)}"
            spec = JobSpec(job_id, running.kind, running.config, running.name, self.tracking_uri, self.experiment,
                           running.run_id)
            kind = running.kind if running.kind in SHOWN_KINDS else "train"
            job = _Job(job_id, kind, running.name, running.config, spec, submitted_at=running.submitted_at,
                       runner=self.runner, handle=running.handle, state="running", run_id=running.run_id,
                       started_at=running.submitted_at)
            self._jobs[job_id] = job
            self._running += 1
            self.runner.adopt(running, lambda event, job=job: self._on_event(job, event))

    def _check_visitor_cap(self, visitor: str | None) -> None:
        """Lock held."""
        cap = self.max_active_per_visitor
        if visitor is None or cap is None:
            return
        active = sum(job.visitor == visitor and job.state in ACTIVE_STATES for job in self._jobs.values())
        if active >= cap:
            raise InputError(f"You already have {active} job{'s' * (active != 1)} queued or running, the most one visitor may have at "
                             "once: cancel one or wait for one to end.")

    def _job(self, job_id: str) -> _Job:
        """Lock held."""
        try:
            return self._jobs[job_id]
        except KeyError:
            raise InputError(f"There is no job '{job_id}'.") from None

    def _cancel(self, job: _Job, reason: str = training.USER_CANCEL) -> None:
        """Lock held."""
        if job.state not in ACTIVE_STATES:
            return
        job.cancel.stop(reason)
        if job.runner is not None:
            job.runner.cancel(job.handle, job.cancel.reason)
        if job.state == "queued":
            self._queue.remove(job)
            job.state, job.ended_at = "cancelled", time.time()
            self._ended(job)

    def _start_queued(self) -> None:
        """Lock held. Start queued jobs, oldest first, while fewer than `slots()` run (none once shut down)."""
        while self._queue and not self._closed and self._running < self.slots():
            job = self._queue.popleft()
            job.state, job.started_at = "running", time.time()
            job.runner = self._local if job.spec.kind in IN_APP_KINDS else self.runner
            self._running += 1
            try:
                job.handle = job.runner.submit(job.spec, lambda event, job=job: self._on_event(job, event))
            except Exception as exc:  # the cluster refused it or can't be reached: the job fails, the queue goes on
                log.warning("Job %s could not be started", job.job_id, exc_info=True)
                job.runner = None
                self._end(job, JobEnded("failed", f"It could not be started on {self.runner.description}: {exc}"))

    def _on_event(self, job: _Job, event: JobEvent) -> None:
        """What the job's runner reports, from any thread (a thread runner's: the job's own)."""
        with self._lock:
            if isinstance(event, RunCreated):
                job.run_id = event.run_id
            elif isinstance(event, ProgressReported):
                job.record(event.progress, self._batch_history_cap)
                self._start_queued()  # the runner's capacity (a cluster's slots) may have grown meanwhile
            elif isinstance(event, JobEnded) and job.state == "running":
                self._end(job, event)
                self._start_queued()
        if isinstance(event, ProgressReported):
            _call_watcher(job.on_progress, event.progress)  # in the reporting thread: a cancel lands before the next batch
        self._announce_ends()

    def _end(self, job: _Job, ended: JobEnded) -> None:
        """Lock held."""
        job.state, job.result, job.error, job.ended_at = ended.state, ended.result, ended.error, time.time()
        self._running -= 1
        self._ended(job)

    def _ended(self, job: _Job) -> None:
        """Lock held. The job has ended: wake its waiters, and have its watcher told once the lock is let go."""
        self._job_ended.notify_all()
        if job.on_end is not None:
            self._unannounced.append((job.on_end, self._snapshot(job)))

    def _announce_ends(self) -> None:
        """Lock not held (by this caller). Call the on_end hooks of the jobs that ended meanwhile, in order."""
        with self._lock:
            ended, self._unannounced = self._unannounced, []
        for hook, snapshot in ended:
            _call_watcher(hook, snapshot)

    def _snapshot(self, job: _Job) -> JobSnapshot:
        """Lock held."""
        return JobSnapshot(
            job_id=job.job_id,
            kind=job.kind,
            name=job.name,
            config=job.config,
            state=job.state,
            queue_position=self._queue.index(job) + 1 if job.state == "queued" else None,
            run_id=job.run_id,
            progress=job.progress,
            device=job.device,
            error=job.error,
            submitted_at=job.submitted_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
            epoch_history=tuple(dict(epoch) for epoch in job.epochs),
            batch_history=tuple(job.batches),
            result=job.result,
            cancel_requested=job.cancel.is_set(),
            visitor=job.visitor,
        )

"""The Ray Jobs runner: each training job becomes a Ray job whose entrypoint is
`python -m cnnkit worker JOB_JSON`, submitted through `ray.job_submission.JobSubmissionClient`.

The run is created here first (SCHEDULED, `RunStore.schedule_run`) so the job has a run from the
start; the worker trains it and reports only through the store (epoch metrics, the heartbeat and
its progress tag), which a watcher thread reads back, so a job's progress survives an app restart.
The cap across apps is the cluster's `cnnkit_slot` resource: each job takes one (start the head
with `--resources='{"cnnkit_slot": N}'`), a job beyond them waits PENDING. The runner's `capacity()` is
that count, read from the cluster's state API every few seconds, so the manager starts as many jobs as
the cluster has slots. Cancel is `stop_job`:
Ray sends the worker SIGTERM, which ends its run KILLED; `RAY_JOB_STOP_WAIT_TIME_S` gives it time.
A corruption sweep's job sweeps a finished run: that run's state says nothing of the sweep, so its
watcher reads the sweep's progress from the worker's log and its end from Ray's status (`_sweep_ending`).
Jobs outlive the app: after a restart `running_jobs` lists the cluster's cnnkit jobs still PENDING or
RUNNING, with their runs from the store, and `adopt` watches each as `submit` would have.
A job runs any command its submitter names, so the runner uses only a cluster with Ray's token
authentication on (`authentication_mode`), unless CNNKIT_RAY_OPEN_CLUSTER=1 says the cluster is
protected otherwise.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import shlex
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cnnkit
from cnnkit import tracking
from cnnkit.tracking import run_schema
from cnnkit.datasets import DATA_DIR_VARIABLE
from cnnkit.errors import InputError, one_line
from cnnkit.jobs.events import STATE_OF_RUN, EventSink, JobEnded, ProgressReported, RunCreated, run_ended
from cnnkit.jobs.runner import JobSpec, RunningJob
from cnnkit.jobs.worker import read_sweep_log
from cnnkit.training import Progress, RunResult

log = logging.getLogger(__name__)

JOB_PREFIX = "cnnkit-"  # of every cnnkit job's submission id: cnnkit-RUNID-N-TIME
SLOT_RESOURCE = "cnnkit_slot"  # one per running job; the cluster's count is the cap
WORKER_PYTHON_VARIABLE = "CNNKIT_WORKER_PYTHON"  # the worker's interpreter on the cluster, default "python"
STOP_WAIT_SECONDS = 60  # RAY_JOB_STOP_WAIT_TIME_S: how long a stopped worker has to end its run KILLED
FORWARDED_VARIABLES = ("KERAS_BACKEND", "CNNKIT_HEARTBEAT_SECONDS", DATA_DIR_VARIABLE, "CNNKIT_CHECKPOINT_SECONDS",
                       "CNNKIT_SYSTEM_METRICS_SECONDS")
_RAY_STATES = {"PENDING": "pending", "RUNNING": "running"}  # every other Ray status has ended
WAITING_FOR_A_SLOT = "waiting for a slot on the cluster"  # the phase of a job Ray holds PENDING
_LOST_AFTER = 30  # polls in a row the cluster may not answer before the job counts as lost
SLOTS_FRESH_SECONDS = 5.0  # how long one read of the cluster's slot count answers `capacity()`
_SLOTS_READ_TIMEOUT = 5  # seconds one read may take
OPEN_CLUSTER_VARIABLE = "CNNKIT_RAY_OPEN_CLUSTER"  # "1": use a cluster without token authentication all the same


def _cluster_error(address: str, error: Exception) -> InputError:
    if type(error).__name__ == "AuthenticationError":
        return InputError(f"The Ray cluster at {address} wants a token: set "
                          "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH to its token file (or RAY_AUTH_TOKEN to the "
                          "token; `ray get-auth-token` on the head prints it), then start again.")
    return InputError(f"The Ray cluster at {address} can't be reached: {one_line(error)}")


def authentication_mode(address: str) -> str:
    """How the cluster whose dashboard is at `address` authenticates, as it tells anyone: "token" or
    "disabled" (also a Ray from before token authentication, which has no such page)."""
    try:
        with urllib.request.urlopen(f"{address}/api/authentication_mode", timeout=_SLOTS_READ_TIMEOUT) as answer:
            return json.load(answer).get("authentication_mode", "disabled")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return "disabled"
        raise


def _check_token_authentication(address: str, mode: str) -> None:
    """InputError for a cluster without token authentication, unless OPEN_CLUSTER_VARIABLE is 1."""
    if mode == "token" or os.environ.get(OPEN_CLUSTER_VARIABLE) == "1":
        return
    raise InputError(f"The Ray cluster at {address} runs without token authentication: anyone who reaches it can run "
                     "any command there, so cnnkit won't send it jobs. Make a token on the head (`ray get-auth-token "
                     "--generate`) and start it again: `ray start --head` then turns token authentication on. If "
                     f"the cluster is protected otherwise, set {OPEN_CLUSTER_VARIABLE}=1.")


def slots_of(nodes) -> int | None:
    """The job slots of a cluster's nodes (the state API's NodeStates): the alive ones' `cnnkit_slot`
    resources together; None when none has any."""
    counts = [node.resources_total.get(SLOT_RESOURCE, 0) for node in nodes if node.state == "ALIVE"]
    return int(sum(counts)) if any(counts) else None


def worker_environment(tracking_uri: str) -> dict[str, str]:
    """The worker's environment variables: the store, this cnnkit on PYTHONPATH (a cluster on this
    machine or a shared filesystem; elsewhere install cnnkit there), the settings it reads, and
    time to end its run KILLED when stopped."""
    package_root = str(Path(cnnkit.__file__).resolve().parent.parent)
    python_path = os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))
    forwarded = {name: os.environ[name] for name in FORWARDED_VARIABLES if os.environ.get(name)}
    return {"MLFLOW_TRACKING_URI": tracking_uri, "PYTHONPATH": python_path,
            "RAY_JOB_STOP_WAIT_TIME_S": str(STOP_WAIT_SECONDS), **forwarded}


def _absolute(uri: str) -> str:
    """A SQLite URI whose path the worker, starting in another folder, still finds."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix):]).resolve())
    return uri


@dataclasses.dataclass(eq=False)
class _Watched:
    run_id: str
    tracking_uri: str
    reason: str | None = None  # why it was cancelled, once it was
    ray_status: str = "PENDING"
    latest: Progress | None = None
    epochs_seen: int = 0
    kind: str = "train"  # the JobSpec's: "corruptions" is watched through the worker's log


class RayRunner:
    """Jobs on the Ray cluster whose dashboard (Jobs API) is at `address` (http://host:8265).
    Each asks for `num_cpus` CPUs, `num_gpus` GPUs and one `cnnkit_slot`."""

    detached = True

    def __init__(self, address: str, tracking_uri: str | None = None, *, num_cpus: float = 1, num_gpus: float = 0,
                 poll_seconds: float = 1.0):
        from ray.job_submission import JobSubmissionClient

        self.description = f"Ray cluster {address}"
        self.address, self.num_cpus, self.num_gpus, self.poll_seconds = address, num_cpus, num_gpus, poll_seconds
        self.tracking_uri = _absolute(tracking_uri or tracking.default_tracking_uri())
        try:
            self._client = JobSubmissionClient(address)
            mode = authentication_mode(address)
        except Exception as error:
            raise _cluster_error(address, error) from None
        _check_token_authentication(address, mode)
        self._jobs: dict[str, _Watched] = {}
        self._ids = itertools.count(1)
        self._slots: int | None = None
        self._slots_read_at = time.monotonic()
        self._reading_slots = threading.Lock()  # held while a read is under way: one at a time
        try:
            self._slots = self._read_slots(None)
        except Exception as error:
            raise _cluster_error(address, error) from None

    def capacity(self) -> int | None:
        """The cluster's job slots (its alive nodes' `cnnkit_slot` resources together), for every app
        submitting there; None when it has no such resource, and Ray caps nothing. A read older than
        SLOTS_FRESH_SECONDS is renewed in the background, so asking never waits on the cluster; while
        the cluster can't be reached, the last count read stands."""
        if time.monotonic() - self._slots_read_at > SLOTS_FRESH_SECONDS and self._reading_slots.acquire(blocking=False):
            threading.Thread(target=self._renew_slots, name="cnnkit ray slots", daemon=True).start()
        return self._slots

    def _renew_slots(self) -> None:
        try:
            self._slots = self._read_slots(self._slots)
        except Exception as error:
            log.warning("Keeping %s job slots for %s: %s", self._slots, self.description, one_line(error))
        finally:
            self._slots_read_at = time.monotonic()
            self._reading_slots.release()

    def _read_slots(self, known: int | None) -> int | None:
        """The cluster's slot count now; `known` while it lists no alive node yet (a head still starting)."""
        from ray.util.state import list_nodes

        nodes = list_nodes(address=self.address, filters=[("state", "=", "ALIVE")], timeout=_SLOTS_READ_TIMEOUT,
                           raise_on_missing_output=False)
        return slots_of(nodes) if nodes else known

    def submit(self, spec: JobSpec, on_event: EventSink) -> str:
        if spec.kind == "lr_find":
            raise InputError("The learning-rate range test runs in the app, not on a cluster.")
        uri = _absolute(spec.tracking_uri or self.tracking_uri)
        store = tracking.RunStore(uri)
        run_id = spec.run_id if spec.kind in ("resume", "corruptions") else store.schedule_run(
            spec.config, spec.experiment, spec.name, spec.tags)
        on_event(RunCreated(run_id))
        path = Path(spec.config.dataset_path) if spec.config.dataset_path else None
        if path is not None and path.is_file():  # an upload: the worker may be on another machine
            store.log_uploaded_dataset(run_id, path)
        job = dataclasses.replace(spec, run_id=run_id, tracking_uri=uri)
        python = os.environ.get(WORKER_PYTHON_VARIABLE, "python")
        try:
            handle = self._client.submit_job(
                entrypoint=f"{shlex.quote(python)} -m cnnkit worker {shlex.quote(job.to_json())}",
                submission_id=f"{JOB_PREFIX}{run_id}-{next(self._ids)}-{int(time.time())}",
                entrypoint_num_cpus=self.num_cpus, entrypoint_num_gpus=self.num_gpus,
                entrypoint_resources={SLOT_RESOURCE: 1},
                runtime_env={"env_vars": worker_environment(uri)},
                metadata={"cnnkit_run_id": run_id, "cnnkit_job": spec.job_id, "cnnkit_kind": spec.kind},
            )
        except Exception as error:
            store.end_scheduled_run(run_id, "FAILED", f"The Ray cluster refused the job: {error}")
            raise _cluster_error(self.address, error) from None
        self._start_watching(handle, _Watched(run_id, uri, kind=spec.kind), on_event)
        return handle

    def status(self, handle: str) -> str:
        return _RAY_STATES.get(self._jobs[handle].ray_status, "ended")

    def progress(self, handle: str) -> Progress | None:
        return self._jobs[handle].latest

    def cancel(self, handle: str, reason: str) -> None:
        """Stop the Ray job (the worker gets SIGTERM and ends its run KILLED); once Ray has stopped it, the
        job's watcher ends the run KILLED with `reason` if nothing did (`_ending`)."""
        self._jobs[handle].reason = reason
        self._client.stop_job(handle)

    def running_jobs(self) -> list[RunningJob]:
        """The cluster's cnnkit jobs still PENDING or RUNNING that this runner doesn't watch yet, each with its
        run's name and settings from this runner's store. A job whose run the store lacks (another app's
        store) is left out with a log line; a cluster that doesn't answer the listing gives none."""
        try:
            listed = self._client.list_jobs()
        except Exception as error:
            log.warning("No jobs adopted: %s did not list its jobs: %s", self.description, one_line(error))
            return []
        ours = [details for details in listed if (details.submission_id or "").startswith(JOB_PREFIX)
                and str(details.status.value) in _RAY_STATES and details.submission_id not in self._jobs]
        if not ours:
            return []
        store = tracking.RunStore(self.tracking_uri)
        return [job for job in (self._running_job(store, details) for details in ours) if job is not None]

    def _running_job(self, store: tracking.RunStore, details) -> RunningJob | None:
        """A listed Ray job (JobDetails) as a RunningJob, or None when its run can't be read from `store`."""
        metadata = details.metadata or {}
        run_id = metadata.get("cnnkit_run_id", "")
        try:
            run = store.run(run_id)
            config = store.config_of_run(run_id)
        except InputError as error:
            log.warning("Not adopting Ray job %s: its run %r is not one of %s (%s)", details.submission_id, run_id,
                        store.describe(), one_line(error))
            return None
        submitted = details.start_time / 1000 if details.start_time else time.time()  # Ray's are milliseconds
        return RunningJob(details.submission_id, run_id, run.name, config, metadata.get("cnnkit_kind", "train"),
                          submitted)

    def adopt(self, job: RunningJob, on_event: EventSink) -> None:
        self._start_watching(job.handle, _Watched(job.run_id, self.tracking_uri, kind=job.kind), on_event)

    async def follow_logs(self, handle: str):
        """The worker's output as it comes (Ray's tail_job_logs), until the job ends."""
        async for lines in self._client.tail_job_logs(handle):
            yield lines

    # ---- watching, from the store -----------------------------------------------------

    def _start_watching(self, handle: str, watched: _Watched, on_event: EventSink) -> None:
        self._jobs[handle] = watched
        threading.Thread(target=self._watch, args=(handle, watched, on_event), name=f"cnnkit ray {handle}",
                         daemon=True).start()

    def _watch(self, handle: str, watched: _Watched, on_event: EventSink) -> None:
        """The job's watcher thread: pass on what the worker logs until Ray says the job ended."""
        store, unanswered, sweep = tracking.RunStore(watched.tracking_uri), 0, watched.kind == "corruptions"
        while True:
            try:
                watched.ray_status = str(self._client.get_job_status(handle).value)
                state = store.run_state(watched.run_id)
                log_text = self._client.get_job_logs(handle) if sweep and watched.ray_status == "RUNNING" else ""
                unanswered = 0
            except Exception:
                unanswered += 1
                if unanswered < _LOST_AFTER:
                    time.sleep(self.poll_seconds)
                    continue
                log.warning("Lost touch with Ray job %s", handle, exc_info=True)
                on_event(JobEnded("failed", f"Lost touch with the job on {self.description}."))
                return
            if watched.ray_status == "PENDING" and watched.latest is None:
                watched.latest = Progress(WAITING_FOR_A_SLOT)
                on_event(ProgressReported(watched.latest))
            if sweep:
                self._report(watched, read_sweep_log(log_text)[0], on_event)
            else:
                self._pass_on_progress(store, watched, state, on_event)
            if watched.ray_status not in _RAY_STATES and sweep:
                on_event(self._sweep_ending(handle, store, watched))
                return
            if watched.ray_status not in _RAY_STATES:
                self._pass_on_epochs(store, watched, on_event)
                on_event(self._ending(handle, store, watched, store.run_state(watched.run_id)))
                return
            time.sleep(self.poll_seconds)

    def _pass_on_progress(self, store, watched: _Watched, state: tracking.RunState, on_event: EventSink) -> None:
        """A new progress event from the heartbeat (every few seconds), after the epochs logged before it."""
        text = state.tags.get(run_schema.PROGRESS_TAG)
        latest = Progress.from_json(text) if text else None
        if latest is not None and latest.event == "epoch":  # the epoch itself comes from the store's rows, once
            latest = dataclasses.replace(latest, event="phase")
        if latest is not None and latest != watched.latest:
            self._pass_on_epochs(store, watched, on_event)
            watched.latest = latest
            on_event(ProgressReported(latest))

    @staticmethod
    def _report(watched: _Watched, latest: Progress | None, on_event: EventSink) -> None:
        """A progress event for `latest`, when it is news."""
        if latest is not None and latest != watched.latest:
            watched.latest = latest
            on_event(ProgressReported(latest))

    def _pass_on_epochs(self, store, watched: _Watched, on_event: EventSink) -> None:
        """Epoch events for the epochs logged since the last ones passed on (for the live curves)."""
        history = store.epoch_history(watched.run_id)
        for row in history[history["epoch"] > watched.epochs_seen].to_dict("records"):
            epoch = int(row.pop("epoch"))
            on_event(ProgressReported(Progress("training", epoch, event="epoch",
                                               metrics={key: value for key, value in row.items() if value == value})))
            watched.epochs_seen = epoch

    def _ending(self, handle: str, store, watched: _Watched, state: tracking.RunState) -> JobEnded:
        """How the job ended, from its run; a worker that ended without ending its run is a failure, unless
        the job was cancelled: Ray calls a job stopped only once its worker has ended, so a run still waiting
        for a worker, or one its worker left RUNNING (killed before it could end it), ends KILLED with the
        cancel's reason here, whatever order the watcher saw the stop and the run's end in."""
        status = state.status
        if status in ("SCHEDULED", "RUNNING") and watched.reason is not None:
            store.logger(watched.run_id).finish("KILLED", watched.reason)
            state = store.run_state(watched.run_id)
            status = state.status
        if status == "SCHEDULED":  # the worker never started: the interpreter or cnnkit is missing there
            why = f"The worker did not start on {self.description}: {self._ray_message(handle)}"
            store.end_scheduled_run(watched.run_id, "FAILED", why)
            return JobEnded("failed", why)
        if status in STATE_OF_RUN:
            return run_ended(RunResult(watched.run_id, status, state.metrics, state.tags.get(run_schema.ERROR_TAG)))
        return JobEnded("failed", f"The worker stopped without ending its run ({self._ray_message(handle)}); the run "
                                  "is marked KILLED once its heartbeat is stale.")

    def _sweep_ending(self, handle: str, store, watched: _Watched) -> JobEnded:
        """How a sweep's job ended, from Ray's status (its run stays FINISHED whatever the sweep did):
        finished with the run's sweep metrics once the worker succeeded (it logged the sweep), cancelled once Ray
        stopped it (a stopped sweep logs nothing), else failed with the worker's one line."""
        if watched.ray_status == "SUCCEEDED":
            metrics = store.run_state(watched.run_id).metrics
            swept = {key: value for key, value in metrics.items()
                     if key.startswith(("corruption_", run_schema.CORRUPTION_PREFIX))}  # as `sweep_run` returns them
            return run_ended(RunResult(watched.run_id, "FINISHED", swept))
        if watched.ray_status == "STOPPED":
            return JobEnded("cancelled")
        try:
            error = read_sweep_log(self._client.get_job_logs(handle))[1]
        except Exception:
            error = None
        return JobEnded("failed", error or f"The sweep failed on {self.description}: {self._ray_message(handle)}")

    def _ray_message(self, handle: str) -> str:
        try:
            info = self._client.get_job_info(handle)
            tail = self._client.get_job_logs(handle).strip().splitlines()[-3:]
        except Exception as error:
            return f"Ray can't say why ({error})"
        return " · ".join(filter(None, [info.message, *tail]))[:1000]

"""The runner seam: where the job manager's jobs train. The manager keeps the queue, the caps and
the snapshots; a runner starts a job, maps a cancel to its own mechanism and sends back the job's
events (`job_events`). `ThreadRunner` trains in threads of this process (the default);
`RayRunner` submits each job to a Ray cluster as `python -m cnnkit worker ...`. A detached runner's
jobs outlive the process: a new manager lists the ones still queued or running there
(`running_jobs`) and `adopt`s them, so an app restart loses none."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Protocol

from cnnkit.config import ServerPaths, TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs.events import EventSink


@dataclass(frozen=True)
class JobSpec:
    """Everything a runner needs to start a job, as plain values."""

    job_id: str  # the manager's id of the job
    kind: str  # "train", "resume", "fork", "lr_find" or "corruptions" (a finished run's corruption sweep)
    config: TrainConfig
    name: str
    tracking_uri: str | None
    experiment: str
    run_id: str | None = None  # the run a "resume" continues, a "fork" starts from, a sweep sweeps, or one scheduled for a worker
    steps: int = 0  # an "lr_find"'s batches
    tags: dict[str, str] | None = None  # extra tags for its run (its ablation, its search trial)
    epoch: int = 0  # a "fork"'s epoch: it starts from run_id's snapshot after it
    changes: dict | None = None  # a "fork"'s changed settings
    images: int | None = None  # a "corruptions" job's test images (None: the sweep's default)
    server_paths: ServerPaths = field(default_factory=ServerPaths.anywhere)  # the submitter's: the worker checks again

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "config": self.config.to_dict(),
                           "server_paths": self.server_paths.to_dict()}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        try:
            values = json.loads(text)
            paths = values.get("server_paths")  # absent: a job the operator wrote
            return cls(**{**values, "config": TrainConfig.from_dict(values["config"]),
                          "server_paths": ServerPaths.from_dict(paths) if paths is not None else ServerPaths.anywhere()})
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(f"The worker's job is not a job's JSON: {error}") from None


@dataclass(frozen=True)
class RunningJob:
    """A job a detached runner still has, submitted by an earlier process: what a manager needs to show it."""

    handle: str  # the runner's handle of the job
    run_id: str
    name: str  # its run's name
    config: TrainConfig  # its run's settings
    kind: str  # "train" or "resume"
    submitted_at: float  # time.time() value


class Runner(Protocol):
    description: str  # where jobs go, for a person (the app's sidebar)
    detached: bool  # jobs outlive this process (a cluster's): its exit leaves them running, the next one adopts them

    def capacity(self) -> int | None:
        """How many jobs the runner itself lets run at once (a cluster's job slots): the manager starts that
        many. None: the runner has no cap of its own, and the manager's `max_concurrent` holds.
        Asked often: it must answer at once, without waiting on a cluster."""

    def submit(self, spec: JobSpec, on_event: EventSink) -> str:
        """Start the job; its events go to `on_event` (from any thread, submit's own included), the last one `JobEnded`.
        Returns the runner's handle of the job."""

    def status(self, handle: str) -> str:
        """pending, running or ended: the runner's own view of the job."""

    def progress(self, handle: str):
        """The job's latest Progress (None before the first)."""

    def cancel(self, handle: str, reason: str) -> None:
        """Ask the job to stop; its run ends KILLED with `reason`, keeping what it logged."""

    def running_jobs(self) -> list[RunningJob]:
        """The jobs still queued or running there that this runner doesn't watch (a cluster's, from before
        a restart); none for a runner whose jobs end with the process, or a cluster that doesn't answer."""

    def adopt(self, job: RunningJob, on_event: EventSink) -> None:
        """Watch a job `running_jobs` listed as if `submit` had started it: its events go to `on_event`,
        and `status`, `progress` and `cancel` take its handle."""

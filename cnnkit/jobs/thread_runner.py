"""The default runner: each job trains in a daemon thread of this process, through `training.train`
(or `resume`, `lr_range_test`, a corruption sweep's `sweep_run`), its callbacks turned into job events and its cancel into a StopRequest."""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Callable

from cnnkit import training
from cnnkit.errors import InputError
from cnnkit.jobs.events import EventSink, JobEnded, ProgressReported, RunCreated, run_ended
from cnnkit.jobs.runner import JobSpec, RunningJob
from cnnkit.training import Progress, RangeTest, RunResult

log = logging.getLogger(__name__)


def _outcome(result: RunResult | RangeTest) -> JobEnded:
    """The job's end a returned result stands for."""
    if isinstance(result, RunResult):
        return run_ended(result)
    return JobEnded("finished", None, result)


class _Thread:
    def __init__(self, spec: JobSpec, on_event: EventSink):
        self.spec, self.on_event = spec, on_event
        self.cancel = training.StopRequest()
        self.latest: Progress | None = None
        self.ended = False
        self.thread: threading.Thread | None = None

    def report(self, progress: Progress) -> None:
        self.latest = progress
        self.on_event(ProgressReported(progress))


class ThreadRunner:
    """`trainer`, `range_tester` and `resumer` stand in for training's `train`, `lr_range_test` and
    `resume` (tests inject fakes); None: those, imported (with Keras) when the runner is made."""

    description = "this server's threads"
    detached = False

    def __init__(self, trainer: Callable[..., RunResult] | None = None,
                 range_tester: Callable[..., RangeTest] | None = None,
                 resumer: Callable[..., RunResult] | None = None):
        self._trainer = trainer or training.train
        self._range_tester = range_tester or training.lr_range_test
        self._resumer = resumer or training.resume
        self._jobs: dict[str, _Thread] = {}
        self._ids = itertools.count(1)

    def capacity(self) -> int | None:
        """None: threads have no cap of their own; the manager's `max_concurrent` is how many run at once."""
        return None

    def submit(self, spec: JobSpec, on_event: EventSink) -> str:
        handle, job = f"thread-{next(self._ids)}", _Thread(spec, on_event)
        self._jobs[handle] = job
        job.thread = threading.Thread(target=self._work, args=(job,), name=f"cnnkit {spec.job_id}: {spec.name}", daemon=True)
        job.thread.start()
        return handle

    def status(self, handle: str) -> str:
        return "ended" if self._jobs[handle].ended else "running"

    def progress(self, handle: str) -> Progress | None:
        return self._jobs[handle].latest

    def cancel(self, handle: str, reason: str) -> None:
        self._jobs[handle].cancel.stop(reason)

    def running_jobs(self) -> list[RunningJob]:
        """None: a thread's job ends with its process, so a new one finds none to adopt."""
        return []

    def adopt(self, job: RunningJob, on_event: EventSink) -> None:
        raise ValueError(f"{self.description} adopt no jobs: theirs end with the process that ran them.")

    def _work(self, job: _Thread) -> None:
        """The job's thread: run it and say how it ended; a bug in it fails the job, never the manager."""
        ended = JobEnded("failed", "The job's thread stopped unexpectedly.")
        try:
            ended = _outcome(self._run(job))
        except training.Cancelled:  # how lr_range_test stops when cancelled
            ended = JobEnded("cancelled")
        except InputError as exc:  # a person's problem (a read-only login, a run that can't resume): its one line
            ended = JobEnded("failed", str(exc))
        except Exception as exc:  # a bug, not a failed run (train returns those)
            log.exception("Job %s raised", job.spec.name)
            ended = JobEnded("failed", f"{type(exc).__name__}: {exc}")
        finally:
            job.ended = True
            job.on_event(ended)

    def _run(self, job: _Thread) -> RunResult | RangeTest:
        spec = job.spec
        created = lambda run_id: job.on_event(RunCreated(run_id))  # noqa: E731
        if spec.kind == "lr_find":
            return self._range_tester(spec.config, steps=spec.steps, cancel=job.cancel)
        if spec.kind == "corruptions":
            return training.sweep_run(spec.run_id, spec.tracking_uri, images=spec.images, cancel=job.cancel,
                                      on_progress=job.report)
        if spec.kind == "fork":
            return training.fork(spec.run_id, spec.epoch, spec.changes, tracking_uri=spec.tracking_uri,
                                 experiment=spec.experiment, run_name=spec.name, cancel=job.cancel,
                                 on_progress=job.report, on_run_created=created)
        if spec.kind == "resume":
            return self._resumer(spec.run_id, tracking_uri=spec.tracking_uri, cancel=job.cancel,
                                 on_progress=job.report, on_run_created=created)
        return self._trainer(spec.config, tracking_uri=spec.tracking_uri, experiment=spec.experiment,
                             run_name=spec.name, cancel=job.cancel, on_progress=job.report, on_run_created=created,
                             **({"tags": spec.tags} if spec.tags else {}))  # injected trainers need not know tags

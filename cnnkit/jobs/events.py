"""What a runner tells the job manager about a job, as plain values that travel as JSON: a run was
created for it, it reported progress, it ended. The thread runner hands them over in memory; a
remote runner rebuilds them from what its worker logged (see `ray_runner`)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable, Union

from cnnkit.training import Progress, RangeTest, RunResult


@dataclass(frozen=True)
class RunCreated:
    run_id: str


@dataclass(frozen=True)
class ProgressReported:
    progress: Progress


@dataclass(frozen=True)
class JobEnded:
    state: str  # finished, failed or cancelled
    error: str | None = None  # why a failed job failed
    result: RunResult | RangeTest | None = None  # a RangeTest (lr_find, in-process only) does not travel as JSON


# An ended run's MLflow status -> the state of the job that trained it.
STATE_OF_RUN = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "cancelled"}


def run_ended(result: RunResult) -> JobEnded:
    """The end of a job whose run ended as `result` says (its error kept only when it failed)."""
    state = STATE_OF_RUN[result.status]
    return JobEnded(state, result.error if state == "failed" else None, result)


JobEvent = Union[RunCreated, ProgressReported, JobEnded]
EventSink = Callable[[JobEvent], None]  # where a runner sends its jobs' events

_KINDS = {cls.__name__: cls for cls in (RunCreated, ProgressReported, JobEnded)}


def to_json(event: JobEvent) -> str:
    if isinstance(event, JobEnded) and isinstance(event.result, RangeTest):
        raise TypeError("A range test's result stays in the process that ran it.")
    return json.dumps({"kind": type(event).__name__, **dataclasses.asdict(event)})


def from_json(text: str) -> JobEvent:
    values = json.loads(text)
    kind = _KINDS[values.pop("kind")]
    if kind is ProgressReported:
        return ProgressReported(Progress.from_json(json.dumps(values["progress"])))
    if kind is JobEnded and values.get("result") is not None:
        return JobEnded(values["state"], values["error"], RunResult(**values["result"]))
    return kind(**values)

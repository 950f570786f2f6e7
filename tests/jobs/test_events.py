"""What runners tell the job manager travels as JSON (the heartbeat that carries a run's progress into
the store, for a runner on another machine: tests/tracking/test_heartbeat.py)."""

import pytest

from cnnkit.jobs import events
from cnnkit.jobs.events import JobEnded, ProgressReported, RunCreated
from cnnkit.training import Progress, RangeTest, RunResult
from cnnkit.models.schedules import LRSuggestion

PROGRESS = Progress("training", epoch=2, epochs=3, batch=5, batches=10, elapsed_s=4.5, eta_s=9.0,
                    metrics={"batch_loss": 0.7, "batch_lr": 0.01}, event="batch", step=15,
                    batch_points=((14, 0.8, 0.01), (15, 0.7, 0.01)), device="CPU (2 cores)")


@pytest.mark.parametrize("event", [
    RunCreated("abc123"),
    ProgressReported(PROGRESS),
    ProgressReported(Progress("loading data")),
    JobEnded("finished", None, RunResult("abc123", "FINISHED", {"test_accuracy": 0.9})),
    JobEnded("failed", "ValueError: boom"),
    JobEnded("cancelled"),
], ids=lambda event: type(event).__name__)
def test_every_job_event_round_trips_through_json(event):
    text = events.to_json(event)
    assert isinstance(text, str)
    assert events.from_json(text) == event


@pytest.mark.parametrize("status, state, error", [("FINISHED", "finished", None), ("FAILED", "failed", "boom"),
                                                  ("KILLED", "cancelled", None)])
def test_an_ended_runs_status_is_its_jobs_state_and_only_a_failure_keeps_its_error(status, state, error):
    result = RunResult("abc123", status, {}, "boom")
    assert events.run_ended(result) == JobEnded(state, error, result)


def test_a_range_tests_result_stays_in_its_process():
    import numpy as np

    test = RangeTest(np.ones(3), np.ones(3), LRSuggestion(0.1, 0.01, 0.5))
    with pytest.raises(TypeError, match="stays in the process"):
        events.to_json(JobEnded("finished", None, test))

"""What runners tell the job manager travels as JSON, and a training run's heartbeat carries its
latest progress event into the store, where a runner on another machine reads it back."""

import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.jobs import events
from cnnkit.tracking import run_schema
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.tracking.heartbeat import Heartbeat, heartbeat_age, stale_after_seconds
from cnnkit.jobs.events import JobEnded, ProgressReported, RunCreated
from cnnkit.training import Progress, RangeTest, RunResult
from cnnkit.models.schedules import LRSuggestion
from run_processes import wait_for

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


def test_the_heartbeat_writes_the_time_the_latest_progress_and_the_fraction_done(tmp_path):
    client = make_client(f"sqlite:///{tmp_path}/mlflow.db")
    run_store = tracking.RunStore(f"sqlite:///{tmp_path}/mlflow.db")
    logger = run_store.start_run(TrainConfig())
    first = float(client.get_run(logger.run_id).data.tags[run_schema.HEARTBEAT_TAG])
    with Heartbeat(logger, seconds=0.05) as heartbeat:
        heartbeat.report(PROGRESS)
        tags = wait_for(lambda: (tags := client.get_run(logger.run_id).data.tags).get(run_schema.PROGRESS_TAG)
                        and float(tags[run_schema.HEARTBEAT_TAG]) > first and tags)  # a beat after the first
    logger.finish("FINISHED")
    assert float(tags[run_schema.HEARTBEAT_TAG]) > first
    assert heartbeat_age(tags) < 30
    assert Progress.from_json(tags[run_schema.PROGRESS_TAG]) == Progress(**{**PROGRESS.__dict__, "batch_points": ()})
    [fraction] = client.get_metric_history(logger.run_id, run_schema.PROGRESS)
    assert (fraction.value, fraction.step) == (pytest.approx(0.5), 15)


def test_the_heartbeat_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "0.5")
    assert stale_after_seconds() == 3.0
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "often")
    with pytest.raises(InputError, match="CNNKIT_HEARTBEAT_SECONDS must be"):
        stale_after_seconds()

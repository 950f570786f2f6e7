"""cnnkit.tracking.heartbeat: a training run's heartbeat carries its latest progress event into the
store, where a runner on another machine reads it back; its interval sets when a run is stale."""

import pytest

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.tracking import run_schema
from cnnkit.tracking.heartbeat import Heartbeat, heartbeat_age, stale_after_seconds
from cnnkit.tracking.store_opening import make_client
from cnnkit.training import Progress
from run_processes import wait_for
from test_events import PROGRESS


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


def test_a_run_without_a_readable_heartbeat_has_no_age():
    assert heartbeat_age({}) is None
    assert heartbeat_age({run_schema.HEARTBEAT_TAG: "soon"}) is None
    assert heartbeat_age({run_schema.HEARTBEAT_TAG: "100.0"}, now=160.0) == 60.0

"""A run's writer (cnnkit.tracking.logger) on a busy store: logging delayed, never the caller;
refused writes retried and nothing lost; a store that stays away fails the run saying since when."""

import sqlite3
import threading

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cnnkit import tracking
from cnnkit.tracking import patience as patience_module
from cnnkit.tracking.store_opening import make_client
from cnnkit.config import TrainConfig

from test_store_opening import one_line_naming


def metric_steps(client, run_id: str, key: str) -> list[int]:
    return sorted(metric.step for metric in client.get_metric_history(run_id, key))


def test_a_locked_store_delays_logging_not_the_caller_and_nothing_is_lost(store):
    client = make_client(store)
    run_store = tracking.RunStore(store)
    logger = run_store.start_run(TrainConfig())
    locker = sqlite3.connect(store.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # every write waits; before buffering, the first flush waited and then failed
    for step in range(1, 11):
        logger.log_metrics({"loss": 1 / step}, step=step)
        logger.flush()
    locker.execute("COMMIT")
    locker.close()
    logger.finish("FINISHED")
    assert metric_steps(client, logger.run_id, "loss") == list(range(1, 11))
    assert client.get_run(logger.run_id).info.status == "FINISHED"


class Refusing:
    """Makes `log_batch` of metrics fail as a locked SQLite store does, `times` times (None: always)."""

    def __init__(self, monkeypatch, times: int | None):
        self.left, self.refused = times, 0
        original = MlflowClient.log_batch

        def log_batch(client, run_id, metrics=(), *args, **kwargs):
            if metrics and (self.left is None or self.left > 0):
                self.refused += 1
                self.left = None if self.left is None else self.left - 1
                raise MlflowException("(sqlite3.OperationalError) database is locked\n[SQL: INSERT INTO metrics ...]")
            return original(client, run_id, metrics, *args, **kwargs)

        monkeypatch.setattr(MlflowClient, "log_batch", log_batch)


def test_refused_metric_writes_are_retried_until_the_store_takes_them(store, monkeypatch):
    monkeypatch.setattr(patience_module, "_RETRY_FIRST_SECONDS", 0.01)
    client = make_client(store)
    run_store = tracking.RunStore(store)
    logger = run_store.start_run(TrainConfig())
    refusing = Refusing(monkeypatch, times=3)
    for step in range(1, 6):
        logger.log_metrics({"loss": 1 / step, "accuracy": step / 10}, step=step)
        logger.flush()
    logger.finish("FINISHED")
    assert refusing.refused == 3
    assert metric_steps(client, logger.run_id, "loss") == metric_steps(client, logger.run_id, "accuracy") == [1, 2, 3, 4, 5]
    assert client.get_run(logger.run_id).info.status == "FINISHED"


def test_a_run_starts_on_a_store_that_refuses_to_create_it_for_a_while(store, monkeypatch):
    monkeypatch.setattr(patience_module, "_RETRY_FIRST_SECONDS", 0.01)
    original, refusals = MlflowClient.create_run, [2]

    def create_run(client, *args, **kwargs):
        if refusals[0]:
            refusals[0] -= 1
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        return original(client, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_run", create_run)
    client = make_client(store)
    run_store = tracking.RunStore(store)
    logger = run_store.start_run(TrainConfig(epochs=7))
    logger.finish("FINISHED")
    assert refusals == [0]
    runs = client.search_runs([client.get_experiment_by_name(tracking.DEFAULT_EXPERIMENT).experiment_id])
    assert [(run.info.run_id, run.info.status, run.data.params["epochs"]) for run in runs] == \
        [(logger.run_id, "FINISHED", "7")]


@pytest.mark.slow
def test_training_on_a_store_that_refuses_writes_for_a_while_finishes_with_every_epoch(store, monkeypatch):
    from cnnkit.training import train

    monkeypatch.setattr(patience_module, "_RETRY_FIRST_SECONDS", 0.05)
    refusing = Refusing(monkeypatch, times=4)
    result = train(TrainConfig(dataset="digits", epochs=3), tracking_uri=store)
    assert result.status == "FINISHED", result.error
    assert refusing.refused == 4
    client = make_client(store)
    for key in ("loss", "val_loss", "lr"):
        assert metric_steps(client, result.run_id, key) == [1, 2, 3], key
    steps = metric_steps(client, result.run_id, "batch_loss")
    assert len(set(steps)) == len(steps) and len({later - earlier for earlier, later in zip(steps, steps[1:])}) == 1
    assert client.get_run(result.run_id).info.status == "FINISHED"


@pytest.mark.slow
def test_training_on_a_store_that_stays_away_past_the_patience_ends_failed_saying_since_when(store, monkeypatch):
    from cnnkit.training import train

    monkeypatch.setattr(patience_module, "_RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(patience_module, "STORE_PATIENCE_SECONDS", 0.5)
    Refusing(monkeypatch, times=None)
    result = train(TrainConfig(dataset="digits", epochs=3), tracking_uri=store)
    assert result.status == "FAILED"
    assert "tracking store busy/unreachable since " in result.error
    assert "database is locked" in result.error and "\n" not in result.error
    run = make_client(store).get_run(result.run_id)
    assert run.info.status == "FAILED"
    assert "tracking store busy/unreachable since " in run.data.tags["cnnkit.error"]


def test_a_finished_runs_writer_thread_ends(store):
    logger = tracking.RunStore(store).start_run(TrainConfig())
    logger.log_metrics({"loss": 1.0}, step=1)
    writer = next(thread for thread in threading.enumerate() if thread.name == f"RunLogger {logger.run_id[:8]}")
    logger.finish("FINISHED")
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert metric_steps(make_client(store), logger.run_id, "loss") == [1]


def test_a_write_the_store_can_never_take_fails_at_once_not_after_the_patience(store, monkeypatch):
    monkeypatch.setattr(patience_module, "STORE_PATIENCE_SECONDS", 30)  # before the fix: 30 s of retries, then StoreUnavailable
    run_store = tracking.RunStore(store)
    logger = run_store.start_run(TrainConfig())
    with sqlite3.connect(store.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TABLE latest_metrics")  # broken while the run logs
    logger.log_metrics({"loss": 1.0}, step=1)
    with pytest.raises(tracking.StoreError) as raised:
        logger.flush(wait=True)
    assert one_line_naming(str(raised.value), store)
    assert "can't be written: (sqlite3.OperationalError) no such table: latest_metrics" in str(raised.value)

"""The one store object (cnnkit.tracking.store): `RunStore` reads and manages runs on its own
client, and the writers it makes write to that store."""

import pytest

from cheap_runs import finished_run
from cnnkit import InputError
from cnnkit.config import TrainConfig


def test_the_run_store_reads_and_manages_runs_on_its_own_client(run_store, client):
    store = run_store
    kept, deleted = finished_run(store, name="first"), finished_run(store)
    store.rename_run(kept, "renamed")
    store.set_run_tag(kept, "keeper", "yes")
    store.delete_run(deleted)

    run = store.run(kept)
    assert (run.run_id, run.name, run.status, run.metrics["test_accuracy"]) == (kept, "renamed", "FINISHED", 0.8)
    assert run.tags["keeper"] == "yes" and run.params["arch"] == TrainConfig().arch
    assert store.runs_frame()["run_id"].tolist() == [kept]
    assert store.run_history(kept)[0]["val_accuracy"].tolist() == [0.5, 0.7]
    with pytest.raises(InputError, match="not found"):
        store.run("0" * 32)
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"


def test_the_store_makes_the_writers_of_its_runs_and_reads_back_what_they_logged(run_store):
    logger = run_store.start_run(TrainConfig(), run_name="written")
    logger.log_metrics({"loss": 0.5}, step=1)
    logger.log_metrics({"loss": 0.25}, step=2)
    logger.flush(wait=True)
    assert logger.store is run_store
    assert run_store.logged_steps(logger.run_id, "loss") == [1, 2]
    assert run_store.last_logged_step(logger.run_id, "loss") == 2
    run_store.logger(logger.run_id).finish("KILLED", "stopped by a test")
    assert run_store.run_status(logger.run_id) == "KILLED"
    assert run_store.run(logger.run_id).tags["cnnkit.error"] == "stopped by a test"

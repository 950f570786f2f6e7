"""A run a crash or a stop interrupted continues from its last completed epoch, in the same MLflow
run, each epoch and step logged once: through the CLI after SIGKILL, and from the Runs page."""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.training import checkpoint
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.training import resumable, train
from run_processes import ROOT, logged_epochs, start, wait_for

EPOCHS = 6


def assert_finished_with_every_epoch_once(store: str, run_id: str, epochs: int) -> None:
    run = make_client(store).get_run(run_id)
    assert run.info.status == "FINISHED" and "cnnkit.error" not in run.data.tags
    assert logged_epochs(store, run_id) == list(range(1, epochs + 1))
    steps = logged_epochs(store, run_id, "batch_loss")
    assert steps == list(range(1, len(steps) + 1)) and len(steps) % epochs == 0  # no gaps, no repeats
    assert run.data.metrics["epochs_trained"] == epochs and "test_accuracy" in run.data.metrics
    assert not checkpoint.folder(store, run_id).exists()  # removed once the run finished


@pytest.mark.slow
def test_a_run_killed_mid_training_resumes_from_the_cli_with_every_epoch_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "0.5")  # the crashed run is stale after 3 s without one
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start(["-m", "cnnkit", "train", "--dataset", "digits", "--epochs", str(EPOCHS), "--set", "batch_size=32",
                     "--set", "schedule=plateau", "--set", "plateau_patience=1"], store, tmp_path)
    checkpoints = tmp_path / "checkpoints"

    def checkpoint_after_two_epochs():
        for folder in checkpoints.glob("*"):
            saved = checkpoint.load(folder)
            if saved and saved.epoch >= 2:
                return folder.name
        return None

    try:
        run_id = wait_for(checkpoint_after_two_epochs, what="a checkpoint after epoch 2")
        process.send_signal(signal.SIGKILL)  # a crash: nothing runs after this
        process.communicate(timeout=60)
    finally:
        process.kill()
    client = make_client(store)
    run_store = tracking.RunStore(store)
    assert client.get_run(run_id).info.status == "RUNNING"  # left so by the crash
    wait_for(lambda: run_store.kill_stale_runs(), what="the crashed run's heartbeat to go stale")
    assert client.get_run(run_id).info.status == "KILLED"
    killed_at = checkpoint.load(checkpoints / run_id).epoch
    assert killed_at < EPOCHS

    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "cnnkit", "resume", run_id], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["run_id"] == run_id and last["status"] == "FINISHED"
    assert client.get_run(run_id).data.tags["cnnkit.resumed_from_epoch"] == str(killed_at)
    assert_finished_with_every_epoch_once(store, run_id, EPOCHS)


@pytest.mark.slow
def test_a_run_killed_on_this_machine_resumes_at_once_without_waiting_for_its_heartbeat_to_age(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "60")  # the heartbeat alone would call the run alive for 6 minutes
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start(["-m", "cnnkit", "train", "--dataset", "digits", "--epochs", "3", "--set", "batch_size=64"], store,
                    tmp_path)
    try:
        run_id = wait_for(lambda: next((folder.name for folder in (tmp_path / "checkpoints").glob("*")
                                        if checkpoint.load(folder)), None), what="the first epoch's checkpoint")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        process.kill()
    client = make_client(store)
    assert client.get_run(run_id).info.status == "RUNNING"  # left so by the crash, its heartbeat fresh

    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "cnnkit", "resume", run_id], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["status"] == "FINISHED"
    assert_finished_with_every_epoch_once(store, run_id, 3)


def test_a_run_without_a_checkpoint_or_still_running_is_not_resumed(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = make_client(store)
    run_store = tracking.RunStore(store)
    logger = run_store.start_run(TrainConfig(dataset="digits"))
    with pytest.raises(InputError, match="is still running"):
        resumable(logger.run_id, store)
    logger.finish("KILLED", "Cancelled by the user.")
    with pytest.raises(InputError) as refused:
        resumable(logger.run_id, store)
    assert str(refused.value) == (f"Run {logger.run_id} has no checkpoint to resume from: it stopped before its first "
                                  "epoch ended.")
    with pytest.raises(InputError, match="is not a run id"):
        resumable("../../etc", store)
    assert client.get_run(logger.run_id).info.status == "KILLED"  # left as it was


def test_a_run_with_logged_epochs_but_no_checkpoint_says_the_checkpoint_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(checkpoint.SECONDS_VARIABLE, "30")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = tracking.RunStore(store).start_run(TrainConfig(dataset="digits"))
    for epoch in (1, 2):
        logger.log_metrics({"loss": 1.0 / epoch}, step=epoch)
    logger.finish("KILLED", "Cancelled by the user.")
    with pytest.raises(InputError) as refused:  # its checkpoint was deleted, or never here
        resumable(logger.run_id, store)
    assert str(refused.value) == (
        f"Run {logger.run_id} has no checkpoint to resume from: its epochs up to epoch 2 are logged, but no checkpoint "
        f"of them is in {checkpoint.folder(store, logger.run_id)}: it was deleted, the run was trained on another "
        "machine or with another store folder, or it stopped before its first save (a checkpoint is saved at most "
        "every 30 s, CNNKIT_CHECKPOINT_SECONDS).")


def test_a_checkpoint_changed_after_it_was_saved_is_not_resumed(tmp_path, capsys):
    import keras
    import numpy as np

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = make_client(store)
    run_store = tracking.RunStore(store)
    logger = run_store.start_run(TrainConfig(dataset="digits"))
    logger.finish("KILLED", "Cancelled by the user.")
    folder = checkpoint.folder(store, logger.run_id)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    model.fit(np.zeros((8, 4)), np.eye(2)[[0, 1] * 4], epochs=2, verbose=0,
              callbacks=[checkpoint.EpochCheckpoint(folder, {})])
    weights = checkpoint.load(folder).weights
    model.set_weights([np.zeros_like(array) for array in model.get_weights()])
    model.save_weights(weights)  # zeroed floats: a valid file, other values

    expected = (f"The checkpoint of run {logger.run_id} at epoch 2 was changed or damaged after it was saved: its "
                "weights don't match the checksum recorded with them; resume refused: relaunch the run to train it "
                "from the start.")
    with pytest.raises(InputError) as refused:
        resumable(logger.run_id, store)
    assert str(refused.value) == expected
    from cnnkit import cli

    assert cli.main(["resume", logger.run_id, "--tracking-uri", store]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {expected}"
    assert client.get_run(logger.run_id).info.status == "KILLED" and weights.is_file()  # both left as they were


@pytest.fixture()
def cancelled_after_one_epoch(app):
    """A digits run of 3 epochs cancelled in its second: KILLED, with the checkpoint of epoch 1."""
    store = os.environ["MLFLOW_TRACKING_URI"]
    cancel = threading.Event()

    def cancel_after_the_first_epoch(progress):
        if progress.event == "epoch":
            cancel.set()

    result = train(TrainConfig(dataset="digits", epochs=3, batch_size=64, seed=7), tracking_uri=store, cancel=cancel,
                   on_progress=cancel_after_the_first_epoch)
    assert result.status == "KILLED" and checkpoint.load(checkpoint.folder(store, result.run_id)).epoch == 1
    return store, result.run_id


@pytest.mark.slow
def test_the_runs_page_resumes_a_killed_run_in_a_job(app, cancelled_after_one_epoch):
    store, run_id = cancelled_after_one_epoch
    app.session_state["open_run"] = run_id
    at = app.switch_page("app_pages/runs.py").run()
    next(button for button in at.button if button.label == "Resume").click()
    at = at.run()
    assert [success.value for success in at.success] == ["Resuming in a job: follow it on the Train page."]
    from app_pages.common import job_manager

    job = job_manager().snapshots()[0]
    assert job.name.endswith("(resumed)")
    ended = job_manager().wait(job.job_id, timeout=600)
    assert ended.state == "finished" and ended.run_id == run_id
    assert [epoch["epoch"] for epoch in ended.epoch_history] == [2, 3]  # it went on from epoch 1
    assert_finished_with_every_epoch_once(store, run_id, 3)
    at = at.run()
    assert not [button for button in at.button if button.label == "Resume"]  # finished: nothing to resume


@pytest.mark.slow
def test_a_checkpoint_is_written_only_once_the_store_holds_every_epoch_it_claims(tmp_path, monkeypatch):
    """Before: the epoch's metrics were only queued when its checkpoint was written, so a kill right
    after it lost them for good (the issue: checkpoint at epoch 7, store at epoch 2)."""
    import re
    import time
    from pathlib import Path

    import keras
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("CNNKIT_CHECKPOINT_SECONDS", "0")  # every epoch
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    original_log_batch, original_save_weights = MlflowClient.log_batch, keras.Model.save_weights

    def slow_metric_writes(client, run_id, metrics=(), *args, **kwargs):  # a store that takes a second per write
        if metrics:
            time.sleep(1.0)
        return original_log_batch(client, run_id, metrics, *args, **kwargs)

    seen = []

    def probe(model, path, *args, **kwargs):  # the checkpoint's file write: what does the store hold right now?
        epoch = int(re.match(r"epoch-(\d+)", Path(path).name).group(1))
        seen.append((epoch, logged_epochs(store, Path(path).parent.name)))
        return original_save_weights(model, path, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", slow_metric_writes)
    monkeypatch.setattr(keras.Model, "save_weights", probe)
    result = train(TrainConfig(dataset="digits", epochs=2, batch_size=128), tracking_uri=store)
    assert result.status == "FINISHED", result.error
    assert [epoch for epoch, _ in seen] == [1, 2, 2]  # after each epoch, and when fit ended
    assert seen == [(epoch, list(range(1, epoch + 1))) for epoch, _ in seen]


@pytest.mark.slow
def test_a_resumed_run_says_which_epochs_its_store_lacks(tmp_path):
    """A checkpoint ahead of its store (as one written before the fix could be): the resumed run
    finishes, and says which epochs it has no metrics of, instead of a silent FINISHED."""
    import sqlite3

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cancel = threading.Event()
    result = train(TrainConfig(dataset="digits", epochs=3, batch_size=128), tracking_uri=store, cancel=cancel,
                   on_progress=lambda progress: progress.event == "epoch" and progress.epoch == 2 and cancel.set())
    assert result.status == "KILLED" and checkpoint.load(checkpoint.folder(store, result.run_id)).epoch == 2
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:  # epoch 2's metrics never reached the store
        connection.execute("DELETE FROM metrics WHERE run_uuid = ? AND step = 2 AND key IN "
                           "('loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'epoch_seconds')", (result.run_id,))
    from cnnkit.training import resume

    resumed = resume(result.run_id, tracking_uri=store)
    assert resumed.status == "FINISHED", resumed.error
    assert logged_epochs(store, result.run_id) == [1, 3]
    clock = tracking.RunStore(store).epoch_history(result.run_id).set_index("epoch")  # elapsed_s of 2 was kept
    assert clock.loc[3, "elapsed_s"] == pytest.approx(clock.loc[2, "elapsed_s"] + clock.loc[3, "epoch_seconds"])
    assert make_client(store).get_run(result.run_id).data.tags["cnnkit.missing_epochs"] == (
        "epoch 2 was trained but never logged: the store lacks its metrics (the process ended before it wrote them); "
        "the run went on from its checkpoint after epoch 2")


def test_missing_epochs_are_named_in_spans():
    from cnnkit.training.logged_training import _spans

    assert _spans([2]) == "2"
    assert _spans([1, 2, 3, 5, 7, 8]) == "1-3, 5, 7-8"

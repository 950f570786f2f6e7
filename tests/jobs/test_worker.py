"""`python -m cnnkit worker JOB_JSON`, the entrypoint a remote runner starts: it trains a run scheduled
in the store (fetching the uploaded dataset this machine doesn't have), beats and reports progress
into the store, and SIGTERM ends its run KILLED with the epochs it logged."""

import json
import shutil
import signal
from pathlib import Path

import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking import run_schema
from cnnkit.config import TrainConfig
from cnnkit.config.data_loading import load_data
from cnnkit.datasets import save_upload
from cnnkit.errors import InputError
from cnnkit.cli import WORKER_STOPPED, main
from cnnkit.jobs.runner import JobSpec
from cnnkit.config.server_paths import ServerPaths
from cnnkit.training import Progress
from cnnkit.jobs import worker
from cnnkit.jobs.worker import SWEEP_PROGRESS, SweepProgressPrinter, read_sweep_log, with_local_data
from run_processes import logged_epochs, running_run_with_epochs, start, wait_for
from test_cli import digits_csv


def scheduled_job(store: str, cfg: TrainConfig, name: str = "worker run", **kwargs) -> JobSpec:
    run_id = tracking.RunStore(store).schedule_run(cfg, run_name=name)
    return JobSpec("job-1", "train", cfg, name, store, "cnnkit", run_id, **kwargs)


@pytest.mark.slow
def test_the_worker_trains_a_scheduled_run_from_its_uploaded_dataset_with_heartbeat_and_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "0.2")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "uploads").mkdir()
    upload = digits_csv(tmp_path / "uploads" / "digits.csv")
    app_policy = ServerPaths.for_app(None, tmp_path / "uploads")  # an app served beyond localhost: uploads only
    job = scheduled_job(store, TrainConfig(dataset="csv", dataset_path=str(upload), epochs=2, batch_size=16),
                        server_paths=app_policy)
    client = make_client(store)
    run_store = tracking.RunStore(store)
    run_store.log_uploaded_dataset(job.run_id, upload)
    upload.unlink()  # the worker's machine does not have the app's uploads folder

    (tmp_path / "job.json").write_text(job.to_json())
    process = start(["-m", "cnnkit", "worker", str(tmp_path / "job.json")], store, tmp_path)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    last = json.loads(out.strip().splitlines()[-1])
    assert (last["run_id"], last["status"]) == (job.run_id, "FINISHED")
    run = client.get_run(job.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "worker run"
    assert logged_epochs(store, job.run_id) == [1, 2]
    assert float(run.data.tags[run_schema.HEARTBEAT_TAG]) > run.info.start_time / 1000
    fractions = [metric.value for metric in client.get_metric_history(job.run_id, run_schema.PROGRESS)]
    assert fractions and fractions == sorted(fractions) and 0 < fractions[-1] <= 1
    assert Progress.from_json(run.data.tags[run_schema.PROGRESS_TAG]).epochs == 2  # the last event the heartbeat saw
    assert run.data.params["dataset_path"] == str(upload)  # the run keeps the path the app knows it by


def test_a_worker_elsewhere_names_a_broken_upload_as_it_was_uploaded(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _, stored = save_upload(b"label,pixel0,pixel1,pixel2,pixel3\n1,0,0,x,0\n", "train.csv", tmp_path / "uploads")
    job = scheduled_job(store, TrainConfig(dataset="csv", dataset_path=str(stored)))
    tracking.RunStore(store).log_uploaded_dataset(job.run_id, stored)
    shutil.rmtree(tmp_path / "uploads")  # the worker's machine does not have the app's uploads folder
    fetched = with_local_data(job, tmp_path / "fetched")
    assert Path(fetched.config.dataset_path).is_file()
    with pytest.raises(InputError) as refused:
        load_data(fetched.config)
    assert str(refused.value) == "train.csv: row 1, column 4 (pixel2) is not a number."


@pytest.mark.slow
def test_sigterm_ends_the_workers_run_killed_with_its_epochs_kept(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    job = scheduled_job(store, TrainConfig(dataset="digits", epochs=20, batch_size=16))
    process = start(["-m", "cnnkit", "worker", job.to_json()], store, tmp_path)
    try:
        run_id = wait_for(running_run_with_epochs(store, 1), what="the worker's first epoch")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert run_id == job.run_id
    assert process.returncode == 128 + signal.SIGTERM, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "KILLED"
    run = make_client(store).get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["cnnkit.error"] == WORKER_STOPPED
    assert logged_epochs(store, run_id)[0] == 1


def test_a_worker_whose_run_was_cancelled_while_it_waited_does_not_train_it(tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    job = scheduled_job(store, TrainConfig(dataset="digits", epochs=1))
    tracking.RunStore(store).logger(job.run_id).finish("KILLED", "Cancelled by the user.")
    assert main(["worker", job.to_json()]) == 2
    assert f"Run {job.run_id} is KILLED, not waiting for a worker." in capsys.readouterr().err
    assert make_client(store).get_run(job.run_id).info.status == "KILLED"


def test_a_sweep_workers_log_gives_its_latest_progress_and_the_error_its_last_line_names():
    loading = Progress("corruption sweep: loading the model and the test images")
    clean = Progress("corruption sweep: clean images", epoch=1, epochs=1, batch=1, batches=66, event="pass")
    failed = json.dumps({"run_id": "r1", "status": "FAILED", "error": "Run r1 has no model."})
    log = [SWEEP_PROGRESS + loading.to_json(), "a library's warning", SWEEP_PROGRESS + clean.to_json(), failed]
    assert read_sweep_log("\n".join(log)) == (clean, "Run r1 has no model.")
    assert read_sweep_log("\n".join(log[:3])) == (clean, None)
    assert read_sweep_log("") == (None, None)
    assert read_sweep_log(SWEEP_PROGRESS + loading.to_json() + "\n{cut short") == (loading, None)


def test_a_sweep_worker_on_a_run_without_a_model_says_so_in_its_last_line(tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trained = scheduled_job(store, TrainConfig(dataset="digits", epochs=1))
    tracking.RunStore(store).logger(trained.run_id).finish("FAILED", "It never trained.")
    sweep = JobSpec("job-2", "corruptions", trained.config, "sweep", store, "cnnkit", trained.run_id, images=50)
    assert main(["worker", sweep.to_json()]) == 1
    out, err = capsys.readouterr()
    progress, error = read_sweep_log(err + out)
    assert progress.phase.startswith("corruption sweep") and error and trained.run_id in error
    assert json.loads(out.strip().splitlines()[-1])["status"] == "FAILED"


def test_a_sweep_worker_prints_every_phase_and_its_batches_half_a_second_apart(monkeypatch, capsys):
    clock = iter([10.0, 10.1, 10.2, 10.3, 10.6, 10.7])
    monkeypatch.setattr(worker.time, "monotonic", lambda: next(clock))
    printer = SweepProgressPrinter()
    reports = [Progress("corruption sweep: loading"), *(Progress(f"corruption sweep: batch {n}", batch=n, event="pass")
                                                         for n in (1, 2, 3, 4)), Progress("corruption sweep: saving")]
    for progress in reports:
        printer(progress)
    printed = [Progress.from_json(line[len(SWEEP_PROGRESS):]) for line in capsys.readouterr().err.splitlines()]
    assert [progress.phase for progress in printed] == [  # at 10.0, 10.6 (0.6 s after the last line), 10.7 (a phase)
        "corruption sweep: loading", "corruption sweep: batch 4", "corruption sweep: saving"]

"""With no space left on the disk a run ends FAILED at once, in one line naming where the disk is
full, and the CLI prints its JSON line, no traceback; SIGTERM ends a run that waits for its store.

A full disk is simulated: from the first write that fails with ENOSPC on, every file write of
the run (model, checkpoint, artifacts, error.txt) fails the same way; a full artifact folder or
store fails as the artifact repository's copy and SQLite do.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import keras
import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
from mlflow.tracking import MlflowClient

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.cli import main
from cnnkit.config import TrainConfig
from cnnkit.training import train
from run_processes import ROOT, start, wait_for


@pytest.fixture()
def full_disk_at(monkeypatch):
    """Make `keras.Model.<method>` the write that finds the disk full; later artifact writes fail too."""
    full = []

    def no_space(*args, **kwargs):
        full.append(True)
        raise OSError(errno.ENOSPC, "No space left on device")

    def unless_full(write):
        def guarded(*args, **kwargs):
            if full:
                no_space()
            return write(*args, **kwargs)
        return guarded

    for method in ("log_text", "log_file"):
        monkeypatch.setattr(tracking.RunLogger, method, unless_full(getattr(tracking.RunLogger, method)))
    return lambda method: monkeypatch.setattr(keras.Model, method, no_space)


@pytest.mark.slow
@pytest.mark.parametrize("write, doing, full", [
    ("save", "saving the run's results and model", lambda tmp_path, run_id: tempfile.gettempdir()),
    ("save_weights", "training (saving the epoch's checkpoint or logging metrics)",
     lambda tmp_path, run_id: tmp_path / "checkpoints" / run_id),
])
def test_the_cli_prints_failed_and_the_reason_when_the_disk_is_full(tmp_path, capsys, full_disk_at, write, doing, full):
    full_disk_at(write)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--set", "batch_size=128", "--tracking-uri", store])

    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    last = json.loads(out.strip().splitlines()[-1])
    reason = (f"no space left on device in {full(tmp_path, last['run_id'])} while {doing} — free some disk space, "
              "then resume the run or train again")
    assert last["status"] == "FAILED" and last["error"] == reason
    run = make_client(store).get_run(last["run_id"])
    assert run.info.status == "FAILED" and run.data.tags["cnnkit.error"] == reason


def test_the_cli_prints_failed_and_the_reason_when_the_store_stays_away_as_the_run_starts(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise tracking.StoreUnavailable("tracking store busy/unreachable since 12:00:00 (database is locked)")

    monkeypatch.setattr(tracking.RunStore, "start_run", never)
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    line = json.loads(out.strip().splitlines()[-1])
    assert line["status"] == "FAILED" and line["run_id"] is None
    assert line["error"] == "StoreUnavailable: tracking store busy/unreachable since 12:00:00 (database is locked)"


def within(seconds: float, function):
    """function() in a thread; its result, or a failed test when it is still going after `seconds`."""
    results = []
    worker = threading.Thread(target=lambda: results.append(function()), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert results, f"the run was still going after {seconds} s"
    return results[0]


def test_a_full_artifact_disk_ends_the_run_failed_at_once_naming_the_artifact_folder(tmp_path, monkeypatch):
    """Before: the copy's ENOSPC was retried as if the store were busy, and the heartbeat's writes,
    which the store took, kept resetting the patience: the run never ended."""
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "0.2")

    def no_space(*args, **kwargs):  # as shutil's copy into the artifact folder fails: no file name
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalArtifactRepository, "log_artifact", no_space)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = within(120, lambda: train(TrainConfig(dataset="digits", epochs=1), tracking_uri=store))
    run = make_client(store).get_run(result.run_id)
    folder = Path(run.info.artifact_uri.removeprefix("file://"))
    assert folder.is_relative_to(tmp_path / "artifacts")
    reason = (f"no space left on device in {folder} while loading data — free some disk space, then resume the run "
              "or train again")
    assert (result.status, result.error) == ("FAILED", reason)
    assert run.info.status == "FAILED" and run.data.tags["cnnkit.error"] == reason


def test_a_full_store_ends_the_run_failed_at_once_naming_the_database(tmp_path, monkeypatch):
    """Before: SQLite's "database or disk is full" was retried as a busy store, for ever (see above)."""
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "0.2")
    original = MlflowClient.log_batch

    def full_for_metrics(client, run_id, metrics=(), *args, **kwargs):
        if metrics:
            raise MlflowException("(sqlite3.OperationalError) database or disk is full\n[SQL: INSERT INTO metrics ...]")
        return original(client, run_id, metrics, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", full_for_metrics)
    database = tmp_path / "mlflow.db"
    result = within(120, lambda: train(TrainConfig(dataset="digits", epochs=2), tracking_uri=f"sqlite:///{database}"))
    assert result.status == "FAILED" and "\n" not in result.error
    # "while <what the run was doing>": building the model or training, as the writer's error surfaces at the next log
    assert result.error.startswith(f"no space left on device in {database} while ")
    assert result.error.endswith(" — free some disk space, then resume the run or train again")
    run = make_client(f"sqlite:///{database}").get_run(result.run_id)
    assert run.info.status == "FAILED" and run.data.tags["cnnkit.error"] == result.error  # tags still fit in this fake


REFUSING_ARTIFACTS = """
import sys
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

def busy(*args, **kwargs):
    print("artifact write refused", file=sys.stderr, flush=True)
    raise MlflowException("(sqlite3.OperationalError) database is locked")

LocalArtifactRepository.log_artifact = busy  # every artifact write is refused as by a busy store, for ever
from cnnkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigterm_ends_a_run_whose_write_is_being_retried_killed_with_143(tmp_path, monkeypatch):
    """Before: the retry loop slept on through SIGTERM until the patience (here 600 s) ran out."""
    monkeypatch.setenv("CNNKIT_STORE_PATIENCE_S", "600")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start(["-c", REFUSING_ARTIFACTS, "train", "--dataset", "digits", "--epochs", "1"], store, tmp_path)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
    reader.start()
    try:
        wait_for(lambda: "artifact write refused\n" in errors, what="the first refused artifact write")
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=90)  # seconds: the stop's grace (2 s) and the run's last writes
    finally:
        process.kill()
    reader.join(timeout=10)
    assert process.returncode == 143, "".join(errors)
    reason = "Stopped: the process got SIGTERM (docker stop, systemd or kill)."
    last = json.loads(out.strip().splitlines()[-1])
    assert last["status"] == "KILLED" and last["error"] == reason
    run = make_client(store).get_run(last["run_id"])
    assert run.info.status == "KILLED" and run.data.tags["cnnkit.error"] == reason
    assert not any("Traceback" in line for line in errors)


@pytest.fixture()
def full_filesystem():
    """`fill(folder, size, before)`: a real full disk at `folder`, a small tmpfs mounted there, on
    which `before()` runs (e.g. a store is made) before it is filled to the last byte; unmounted
    after the test. Skipped where it can't be mounted (not root, or a container that forbids it)."""
    mounted = []

    def fill(folder: Path, size: str = "1M", before=lambda: None) -> Path:
        folder.mkdir(exist_ok=True)
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                               capture_output=True).returncode:
            pytest.skip("mounting a small tmpfs needs root (and a container that allows it)")
        mounted.append(folder)
        before()
        with pytest.raises(OSError) as raised, (folder / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        assert raised.value.errno == errno.ENOSPC
        return folder

    yield fill
    for folder in mounted:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def cli_train(store: str, folder: Path) -> subprocess.CompletedProcess:
    """`python -m cnnkit train` of one digits epoch on `store`; a failed test when it runs past 300 s
    (before the fix a full disk hung it for ever)."""
    return subprocess.run([sys.executable, "-m", "cnnkit", "train", "--dataset", "digits", "--epochs", "1",
                           "--tracking-uri", store], cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_real_full_artifact_filesystem_ends_the_run_failed_naming_the_folder(tmp_path, full_filesystem):
    artifacts = full_filesystem(tmp_path / "artifacts")  # where the store beside it keeps the runs' artifacts
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = cli_train(store, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    run = make_client(store).get_run(last["run_id"])
    folder = Path(run.info.artifact_uri.removeprefix("file://"))
    assert folder.is_relative_to(artifacts)
    assert done.stderr.strip().splitlines()[-1] == f"run FAILED: {last['error']}"
    reason = (f"no space left on device in {folder} while loading data — free some disk space, then resume the run "
              "or train again")
    assert (last["status"], last["error"]) == ("FAILED", reason)
    assert run.info.status == "FAILED" and run.data.tags["cnnkit.error"] == reason


@pytest.mark.slow
def test_the_cli_refuses_a_store_on_a_real_full_filesystem_in_one_line_naming_it(tmp_path, full_filesystem):
    database = tmp_path / "store" / "mlflow.db"
    store = f"sqlite:///{database}"
    full_filesystem(database.parent, "4M", before=lambda: make_client(store))  # the store made, then full
    done = cli_train(store, tmp_path)
    assert (done.returncode, done.stdout) == (2, "") and "Traceback" not in done.stderr  # no run could be made
    assert done.stderr.strip().splitlines()[-1] == (f"error: The tracking store {store} can't be opened: no space left "
                                                    f"on device in {database.parent}. Free some disk space, then try "
                                                    "again.")

"""With no space left on the disk the CLI still ends the run FAILED and prints its JSON line, no traceback.

A full disk is simulated: from the first write that fails with ENOSPC on, every file write of
the run (model, checkpoint, artifacts, error.txt) fails the same way.
"""

import errno
import json

import keras
import pytest

from cnnkit import tracking
from cnnkit.cli import main


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
@pytest.mark.parametrize("write, doing", [
    ("save", "saving the run's results and model"),
    ("save_weights", "training (saving the epoch's checkpoint or logging metrics)"),
])
def test_the_cli_prints_failed_and_the_reason_when_the_disk_is_full(tmp_path, capsys, full_disk_at, write, doing):
    full_disk_at(write)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--set", "batch_size=128", "--tracking-uri", store])

    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    last = json.loads(out.strip().splitlines()[-1])
    reason = f"no space left on device while {doing} — free some disk space, then resume the run or train again"
    assert last["status"] == "FAILED" and last["error"] == reason
    run = tracking.make_client(store).get_run(last["run_id"])
    assert run.info.status == "FAILED" and run.data.tags["cnnkit.error"] == reason


def test_the_cli_prints_failed_and_the_reason_when_the_store_stays_away_as_the_run_starts(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise tracking.StoreUnavailable("tracking store busy/unreachable since 12:00:00 (database is locked)")

    monkeypatch.setattr(tracking, "start_run", never)
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    line = json.loads(out.strip().splitlines()[-1])
    assert line["status"] == "FAILED" and line["run_id"] is None
    assert line["error"] == "StoreUnavailable: tracking store busy/unreachable since 12:00:00 (database is locked)"

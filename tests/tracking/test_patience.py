"""Patience with a busy store (cnnkit.tracking.patience): what is waited for, by whom, and for how long."""

import errno
import threading
import time

import pytest
from mlflow.exceptions import MlflowException

from cnnkit import tracking
from cnnkit.tracking import patience as patience_module


def locked():
    raise MlflowException("(sqlite3.OperationalError) database is locked")


def test_a_call_refused_past_the_patience_gives_up_while_other_calls_succeed(monkeypatch):
    """Before: the heartbeat's successful writes reset the patience's one timer, so a write the
    store kept refusing (as a full artifact disk was) was retried forever."""
    monkeypatch.setattr(patience_module, "_RETRY_FIRST_SECONDS", 0.02)
    patience, outcome = tracking.Patience(seconds=0.5), []

    def refused_write():
        with pytest.raises(tracking.StoreUnavailable) as raised:
            patience.call(locked)
        outcome.append(str(raised.value))

    writer = threading.Thread(target=refused_write, daemon=True)
    writer.start()
    give_up_at = time.monotonic() + 60
    while writer.is_alive() and time.monotonic() < give_up_at:
        patience.call(lambda: None)  # a heartbeat the store takes, as often as it beats
        writer.join(timeout=0.05)
    assert not writer.is_alive(), "the refused write was still being retried after 60 s"
    assert outcome[0].startswith("tracking store busy/unreachable since ")


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    MlflowException("(sqlite3.OperationalError) database or disk is full"),
    MlflowException("(sqlite3.OperationalError) no such table: metrics"),
], ids=["ENOSPC", "SQLite full", "no such table"])
def test_a_full_disk_or_a_broken_store_is_not_retried(monkeypatch, error):
    monkeypatch.setattr(patience_module, "_RETRY_FIRST_SECONDS", 0.02)
    tries = []

    def refused():
        tries.append(1)
        raise error

    with pytest.raises(type(error)):
        tracking.Patience(seconds=5).call(refused)  # before: retried for 5 s, then StoreUnavailable
    assert len(tries) == 1


def test_a_stop_request_ends_the_wait_for_a_refusing_store_within_its_grace(monkeypatch):
    monkeypatch.setattr(patience_module, "STOP_GRACE_SECONDS", 0.5)
    stop = threading.Event()
    patience = tracking.Patience(seconds=600, stop=stop)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(tracking.StoreWaitStopped):
        patience.call(locked)
    assert time.monotonic() - started < 60  # before: retried for the whole 600 s patience
    with pytest.raises(tracking.StoreWaitStopped):  # the grace is spent: a call to a refusing store isn't tried
        patience.call(lambda: pytest.fail("tried"))
    assert patience.call(lambda: "taken", kind="artifacts") == "taken"  # a kind that wasn't refused still is

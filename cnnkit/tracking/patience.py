"""Patience with a busy store: store calls retried with backoff while the store refuses them
(locked, unreachable), up to a limit, and never past a stop request's grace; what waiting can't
mend (a refusal, a full disk, a broken store) raised at once."""

from __future__ import annotations

import logging
import math
import os
import threading
import time

from mlflow.exceptions import MlflowException

from cnnkit import full_disk
from cnnkit.errors import one_line

STORE_PATIENCE_SECONDS = float(os.environ.get("CNNKIT_STORE_PATIENCE_S", 600))  # a busy store fails a run after this
STOP_GRACE_SECONDS = 2.0  # after a stop request, how long a refused write may still be retried
_RETRY_FIRST_SECONDS, _RETRY_MAX_SECONDS = 0.5, 15.0  # backoff between attempts at a refused write
_PERMANENT_ERRORS = ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "INVALID_STATE",  # retrying can't help
                     "PERMISSION_DENIED", "UNAUTHENTICATED")
# SQLite's words for a store that waiting can't mend (MLflow reports them all as TEMPORARILY_UNAVAILABLE)
_BROKEN_STORE_WORDS = ("no such table", "no such column", "has no column named", "file is not a database",
                       "database disk image is malformed", "readonly database")
_log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The store refused every write for longer than the logger's patience."""


class StoreWaitStopped(StoreUnavailable):
    """A stop was requested (cancel, SIGTERM) while the store was refusing a write: not waited for longer."""


def _passes(error: Exception) -> bool:
    """Whether waiting may mend `error` (a locked or unreachable store): not a refusal, a full disk or a broken store."""
    if isinstance(error, MlflowException) and error.error_code in _PERMANENT_ERRORS:
        return False
    return not full_disk.is_disk_full(error) and not broken_store(error)


def broken_store(error: Exception) -> bool:
    """Whether `error` (or what it was raised from) says the store itself is broken."""
    said = " ".join(str(cause) for cause in full_disk.causes(error)).lower()
    return any(words in said for words in _BROKEN_STORE_WORDS)


class Patience:
    """Store calls retried with backoff while the store refuses them (locked, unreachable), until
    calls of that `kind` (the store, the run's artifact folder) have been refused for `seconds` in
    a row (STORE_PATIENCE_SECONDS by default), or one call for that long whatever others did: then
    StoreUnavailable, "tracking store busy/unreachable since <time>". After that each call is tried
    once, and a failure is logged, not raised. A full disk or a broken store is never retried: its
    error is raised at once. Once `stop` is set (a cancel, a SIGTERM) refused calls are retried for
    STOP_GRACE_SECONDS at most; after that a call whose kind is refusing is not tried:
    StoreWaitStopped. Thread-safe; one per run."""

    def __init__(self, seconds: float | None = None, stop: threading.Event | None = None):
        self.seconds = STORE_PATIENCE_SECONDS if seconds is None else seconds
        self.stop = stop
        self._lock = threading.Lock()
        self._refused_since: dict[str, float] = {}  # kind -> time.time() of its first refused call in a row
        self._stopped_at: float | None = None  # time.monotonic() when a call first found `stop` set
        self._gave_up: StoreUnavailable | None = None

    @property
    def gave_up(self) -> StoreUnavailable | None:
        return self._gave_up

    def stop_grace_left(self) -> float:
        """Seconds a stopping run may still wait for the store (inf while no stop was requested)."""
        if self.stop is None or not self.stop.is_set():
            return math.inf
        with self._lock:
            self._stopped_at = self._stopped_at or time.monotonic()
            return max(0.0, self._stopped_at + STOP_GRACE_SECONDS - time.monotonic())

    def call(self, action, kind: str = "store"):
        """action(), retried; its result (None for a failure after giving up)."""
        delay, refused_at = _RETRY_FIRST_SECONDS, None  # when this call was first refused
        while True:
            if kind in self._refused_since and not self.stop_grace_left():
                raise StoreWaitStopped(f"stopped while the tracking store was refusing writes ({kind})")
            try:
                result = action()
            except Exception as error:
                if not _passes(error):
                    raise
                with self._lock:
                    now = time.time()
                    refused_at = refused_at or now
                    since = min(self._refused_since.setdefault(kind, now), refused_at)  # others' successes don't count
                    if self._gave_up:
                        _log.warning("The tracking store is still unavailable: %s", one_line(error))
                        return None
                    waited = now - since
                    if waited >= self.seconds:
                        self._gave_up = StoreUnavailable(
                            "tracking store busy/unreachable since "
                            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))} ({one_line(error)})")
                        raise self._gave_up from None
                grace = self.stop_grace_left()
                if not grace:
                    raise StoreWaitStopped(f"stopped while the tracking store was refusing writes ({one_line(error)})")
                pause = min(delay, self.seconds - waited, grace)
                if self.stop is None or grace < math.inf:
                    time.sleep(pause)
                else:
                    self.stop.wait(pause)  # a stop request ends the pause; the grace starts
                delay = min(2 * delay, _RETRY_MAX_SECONDS)
            else:
                with self._lock:
                    self._refused_since.pop(kind, None)
                return result

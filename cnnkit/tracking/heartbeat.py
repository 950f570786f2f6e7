"""A training run's sign of life: while it trains, a thread writes the time (tag `cnnkit.heartbeat`),
its latest progress event (tag `cnnkit.progress`) and how far it got (metric `progress`) every few
seconds. A RUNNING run whose heartbeat is older than `stale_after_seconds` lost its worker, wherever
that ran (`RunStore.kill_stale_runs` ends it KILLED)."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time

from cnnkit.errors import InputError, one_line
from cnnkit.tracking.run_schema import HEARTBEAT_TAG, PROGRESS, PROGRESS_TAG

log = logging.getLogger(__name__)

HEARTBEAT_VARIABLE = "CNNKIT_HEARTBEAT_SECONDS"
DEFAULT_HEARTBEAT_SECONDS = 5.0
MISSED_BEATS = 6  # a run is stale after this many heartbeats missed in a row


def heartbeat_seconds() -> float:
    """CNNKIT_HEARTBEAT_SECONDS, default 5: how often a run says it is alive."""
    text = os.environ.get(HEARTBEAT_VARIABLE, str(DEFAULT_HEARTBEAT_SECONDS))
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise InputError(f"{HEARTBEAT_VARIABLE} must be a number of seconds between 0 and 3600, got {text!r}.")
    return seconds


def stale_after_seconds() -> float:
    return MISSED_BEATS * heartbeat_seconds()


def beat_tags() -> dict[str, str]:
    return {HEARTBEAT_TAG: f"{time.time():.3f}"}


def heartbeat_age(tags: dict[str, str], now: float | None = None) -> float | None:
    """Seconds since the run's last heartbeat; None for a run that never had one (another tool's)."""
    try:
        return (now or time.time()) - float(tags[HEARTBEAT_TAG])
    except (KeyError, ValueError):
        return None


class Heartbeat:
    """`with Heartbeat(logger):` beats every `seconds` on its own thread until the block ends.
    `logger` is a tracking.RunLogger; `report` hands it the run's Progress to pass on."""

    def __init__(self, logger, seconds: float | None = None):
        self.logger, self.seconds = logger, seconds or heartbeat_seconds()
        self._latest = None
        self._sent = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {logger.run_id[:8]}", daemon=True)

    def report(self, progress) -> None:
        self._latest = progress

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self._send()
            except Exception as error:  # a busy store must not end the run: the next beat tries again
                log.warning("Heartbeat of run %s not written: %s", self.logger.run_id, one_line(error))

    def _send(self) -> None:
        progress, tags = self._latest, beat_tags()
        if progress is not None and progress is not self._sent:
            tags[PROGRESS_TAG] = dataclasses.replace(progress, batch_points=()).to_json()
            if progress.phase == "training":
                self.logger.log_metrics({PROGRESS: progress.fraction}, step=progress.step)
            self._sent = progress
        self.logger.set_tags(tags)

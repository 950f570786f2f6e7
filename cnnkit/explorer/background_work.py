"""Slow results the pages ask for and don't wait on (UMAP of a run's features): each key computed once
on a background thread, shared by every visitor and rerun, its outcome polled.

A failure is kept as one line, like a result, so a page shows it instead of starting the work again
on every poll; it is forgotten with the entry, as results are, least recently asked first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Hashable

from cnnkit.errors import InputError, one_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """Where a key's work stands: `done` with its `value`, or with `error` (one line); `seconds` since it
    was started (while it runs) or that it took."""
    done: bool
    seconds: float
    value: Any = None
    error: str = ""


class BackgroundWork:
    """Results by key, computed by `workers` threads in the order first asked; finished ones beyond
    `max_entries` are dropped, but never work under way or the key being served."""

    def __init__(self, max_entries: int = 8, workers: int = 1):
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Future]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="background-work")

    def outcome(self, key: Hashable, work: Callable[[], Any]) -> Outcome:
        """`key`'s outcome so far; `work()` is started the first time `key` is asked for (or again once
        its entry was dropped)."""
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (time.monotonic(), self._pool.submit(_timed, work))
            self._entries.move_to_end(key)
            started, future = self._entries[key]
            self._drop_least_recently_asked(keep=key)
        if not future.done():
            return Outcome(False, time.monotonic() - started)
        value, error, seconds = future.result()
        return Outcome(True, seconds, value, error)

    def _drop_least_recently_asked(self, keep: Hashable) -> None:
        """Finished entries beyond `max_entries`, least recently asked first; work under way stays, a page
        is polling it, and so does `keep`, the key being served (else its next poll would compute it again)."""
        finished = [key for key, (_, future) in self._entries.items() if future.done() and key != keep]
        for key in finished[:max(len(self._entries) - self._max_entries, 0)]:
            del self._entries[key]


def _timed(work: Callable[[], Any]) -> tuple[Any, str, float]:
    """(value, "", seconds) or (None, the error in one line, seconds); only an `InputError` is expected,
    any other failure is logged with its traceback."""
    start = time.monotonic()
    try:
        return work(), "", time.monotonic() - start
    except InputError as error:
        return None, str(error), time.monotonic() - start
    except Exception as error:
        log.exception("background work failed")
        return None, one_line(error), time.monotonic() - start

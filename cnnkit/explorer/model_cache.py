"""Models kept in memory for the pages, shared by every visitor, and loaded ahead of need.

Loading a run's model and tracing its predict function takes about a second. A page that shows
a run asks for its model with `prefetch` before it draws what needs no model (curves, confusion,
galleries): the load then runs on a background thread meanwhile, and `get` only waits for what is
left of it. Failures are not kept: the next `get` tries again and raises what the load raised.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable


class ModelCache:
    """Up to `max_entries` loaded models by run id, least recently used dropped first."""

    def __init__(self, load: Callable[[str], Any], max_entries: int = 4):
        if max_entries < 1:
            raise ValueError("a model cache holds at least one model")
        self._load, self._max_entries = load, max_entries
        self._entries: OrderedDict[str, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-prefetch")

    def prefetch(self, run_id: str) -> None:
        """Start loading `run_id`'s model in the background, unless it is loaded or loading."""
        self._entry(run_id)

    def get(self, run_id: str, timeout: float | None = None) -> Any:
        """`run_id`'s model: from memory, from a load under way, or loaded now."""
        entry = self._entry(run_id)
        try:
            return entry.result(timeout)
        except Exception:
            with self._lock:
                if self._entries.get(run_id) is entry:
                    del self._entries[run_id]
            raise

    def loaded(self) -> list[str]:
        """Run ids whose models are in memory, least recently used first."""
        with self._lock:
            return [run_id for run_id, entry in self._entries.items() if entry.done() and not entry.exception()]

    def _entry(self, run_id: str) -> Future:
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is None:
                entry = self._entries[run_id] = self._loader.submit(self._load, run_id)
            self._entries.move_to_end(run_id)
            self._drop_least_recently_used()
            return entry

    def _drop_least_recently_used(self) -> None:
        """Forget finished loads beyond `max_entries`; loads under way stay (someone waits for them)."""
        excess = len(self._entries) - self._max_entries
        for run_id in [run_id for run_id, entry in self._entries.items() if entry.done()][:max(excess, 0)]:
            del self._entries[run_id]

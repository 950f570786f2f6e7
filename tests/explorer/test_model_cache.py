"""ModelCache: background loads, one load per run, failures not kept, least recently used dropped."""

import threading

import pytest

from cnnkit.errors import InputError
from cnnkit.explorer.model_cache import ModelCache

WAIT_S = 60  # generous: the loads below finish as soon as the test lets them


class GatedLoader:
    """A loader that records its calls and finishes a load only when the test opens its gate."""

    def __init__(self):
        self.calls, self.threads = [], []
        self.gates: dict[str, threading.Event] = {}
        self.started = threading.Semaphore(0)

    def gate(self, run_id: str) -> threading.Event:
        return self.gates.setdefault(run_id, threading.Event())

    def __call__(self, run_id: str):
        self.calls.append(run_id)
        self.threads.append(threading.current_thread().name)
        self.started.release()
        assert self.gate(run_id).wait(WAIT_S)
        return f"model of {run_id}"


def test_prefetch_loads_on_a_background_thread_and_get_waits_for_that_load():
    loader = GatedLoader()
    cache = ModelCache(loader)
    cache.prefetch("a")
    assert loader.started.acquire(timeout=WAIT_S)  # the load began without anyone waiting for it
    assert cache.loaded() == []
    loader.gate("a").set()
    assert cache.get("a", timeout=WAIT_S) == "model of a"
    assert loader.calls == ["a"]
    assert loader.threads[0].startswith("model-prefetch")
    assert cache.loaded() == ["a"]


def test_a_model_is_loaded_once_however_often_it_is_asked_for():
    loader = GatedLoader()
    loader.gate("a").set()
    cache = ModelCache(loader)
    cache.prefetch("a")
    cache.prefetch("a")
    results = [cache.get("a", timeout=WAIT_S) for _ in range(3)]
    assert results == ["model of a"] * 3
    assert loader.calls == ["a"]


def test_a_failed_load_raises_its_error_and_the_next_get_loads_again():
    attempts = []

    def flaky(run_id):
        attempts.append(run_id)
        if len(attempts) == 1:
            raise InputError("The run's model file does not match its recorded SHA-256.")
        return "model"

    cache = ModelCache(flaky)
    with pytest.raises(InputError, match="SHA-256"):
        cache.get("a", timeout=WAIT_S)
    assert cache.loaded() == []
    assert cache.get("a", timeout=WAIT_S) == "model"
    assert attempts == ["a", "a"]


def test_the_least_recently_used_model_is_dropped_beyond_the_limit():
    loader = GatedLoader()
    for run_id in "abc":
        loader.gate(run_id).set()
    cache = ModelCache(loader, max_entries=2)
    cache.get("a", timeout=WAIT_S)
    cache.get("b", timeout=WAIT_S)
    cache.get("a", timeout=WAIT_S)  # a is now the more recently used
    cache.get("c", timeout=WAIT_S)
    assert cache.loaded() == ["a", "c"]
    cache.get("b", timeout=WAIT_S)
    assert loader.calls == ["a", "b", "c", "b"]


def test_a_load_under_way_is_not_dropped_to_make_room():
    loader = GatedLoader()
    loader.gate("a").set()
    cache = ModelCache(loader, max_entries=1)
    cache.get("a", timeout=WAIT_S)
    cache.prefetch("b")  # b is loading: a finished load is dropped instead
    assert loader.started.acquire(timeout=WAIT_S) and loader.started.acquire(timeout=WAIT_S)
    assert cache.loaded() == []
    loader.gate("b").set()
    assert cache.get("b", timeout=WAIT_S) == "model of b"
    assert loader.calls == ["a", "b"]

"""Work the pages don't wait on (cnnkit.explorer.background_work): started once per key, its result
reused, a failure kept as one line, finished entries dropped least recently asked first."""

import threading
import time

from cnnkit.errors import InputError
from cnnkit.explorer.background_work import BackgroundWork


class Work:
    """A computation that counts its calls and, while `held`, waits to be released."""

    def __init__(self, value=None, error: Exception | None = None, held: bool = False):
        self.value, self.error, self.calls = value, error, 0
        self.released = threading.Event()
        if not held:
            self.released.set()

    def __call__(self):
        self.calls += 1
        self.released.wait(10)
        if self.error:
            raise self.error
        return self.value


def finished(work: BackgroundWork, key, job: Work):
    """`key`'s outcome once done (asked again every 10 ms, up to 10 s)."""
    for _ in range(1000):
        outcome = work.outcome(key, job)
        if outcome.done:
            return outcome
        time.sleep(0.01)
    raise AssertionError(f"{key} not done in 10 s")


def test_work_starts_once_per_key_and_its_result_is_reused():
    background, job = BackgroundWork(), Work("xy", held=True)
    first, again = background.outcome("run", job), background.outcome("run", job)  # two visitors, or two polls
    assert not first.done and not again.done and first.value is None and first.seconds >= 0
    job.released.set()
    outcome = finished(background, "run", job)
    assert (outcome.done, outcome.value, outcome.error) == (True, "xy", "")
    assert background.outcome("run", job).value == "xy" and job.calls == 1
    other = Work("other")
    assert finished(background, "other run", other).value == "other" and other.calls == 1


def test_a_failure_is_kept_as_one_line_and_not_retried(caplog):
    background = BackgroundWork()
    refused = Work(error=InputError("UMAP needs umap-learn, which is not installed here."))
    assert finished(background, "a", refused).error == "UMAP needs umap-learn, which is not installed here."
    broken = Work(error=RuntimeError("numba failed\nwith a long story"))
    outcome = finished(background, "b", broken)
    assert (outcome.done, outcome.value, outcome.error) == (True, None, "numba failed")
    assert "Traceback" in caplog.text and "numba failed" in caplog.text  # the log keeps the whole story
    background.outcome("a", refused), background.outcome("b", broken)
    assert refused.calls == broken.calls == 1


def test_finished_entries_beyond_the_limit_are_dropped_least_recently_asked_first():
    background, first, second = BackgroundWork(max_entries=1), Work(1), Work(2)
    finished(background, "first", first), finished(background, "second", second)
    assert finished(background, "second", second).value == 2 and second.calls == 1  # kept
    assert finished(background, "first", first).value == 1 and first.calls == 2  # dropped, so computed again


def test_work_under_way_is_never_dropped():
    background, held, other = BackgroundWork(max_entries=1, workers=2), Work(3, held=True), Work(4)
    background.outcome("held", held)
    finished(background, "other", other)  # two entries, one too many: both stay, each is being asked for
    held.released.set()
    assert finished(background, "held", held).value == 3 and held.calls == 1


def test_the_key_served_is_kept_while_other_work_is_under_way():
    background, held, served = BackgroundWork(max_entries=1, workers=2), Work(5, held=True), Work(6)
    background.outcome("held", held)
    for _ in range(3):  # polls of a page while another key's work runs past the limit
        assert finished(background, "served", served).value == 6
    assert served.calls == 1
    held.released.set()
    assert finished(background, "held", held).value == 5 and held.calls == 1

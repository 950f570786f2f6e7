"""The default runner: each job trains in a daemon thread of this process, its trainer's callbacks
turned into job events and a cancel into the trainer's StopRequest; driven here directly, with the
fake trainer the job manager's tests use."""

import threading

import pytest

from cnnkit import training
from cnnkit.jobs.events import STATE_OF_RUN, JobEnded, ProgressReported, RunCreated
from cnnkit.jobs.runner import JobSpec, RunningJob
from cnnkit.jobs.thread_runner import ThreadRunner
from cnnkit.tracking import StoreError
from test_manager import CFG, TIMEOUT, FakeTrainer, epoch


class Events(list):
    """The events a runner sent for one job, in order; `end` waits for its JobEnded."""

    def __init__(self):
        super().__init__()
        self.ended = threading.Event()

    def __call__(self, event):
        self.append(event)
        if isinstance(event, JobEnded):
            self.ended.set()

    def end(self) -> JobEnded:
        assert self.ended.wait(TIMEOUT), "the job never ended"
        return self[-1]


@pytest.fixture
def fake():
    fake = FakeTrainer()
    yield fake
    fake.release_all()  # no job's thread outlives its test


def job(name, kind="train", job_id="job-1") -> JobSpec:
    return JobSpec(job_id, kind, CFG, name, None, "cnnkit")


@pytest.mark.parametrize("status, state", STATE_OF_RUN.items())
def test_a_job_sends_its_run_its_progress_then_its_end_in_the_state_of_its_run(fake, status, state):
    runner, events = ThreadRunner(fake), Events()
    handle = runner.submit(job("a"), events)
    run = fake.started("a")
    assert (runner.status(handle), runner.progress(handle)) == ("running", None)
    run.on_progress(epoch(1, loss=0.5))
    run.end(status, "ValueError: bad data")
    ended = events.end()
    assert events == [RunCreated("run-a"), ProgressReported(epoch(1, loss=0.5)), ended]
    assert (ended.state, ended.result.status) == (state, status)
    assert ended.error == ("ValueError: bad data" if state == "failed" else None)  # only a failure keeps its error
    assert (runner.status(handle), runner.progress(handle)) == ("ended", epoch(1, loss=0.5))


def test_a_cancel_sets_the_jobs_stop_request_with_its_reason_and_the_job_ends_cancelled(fake):
    runner, events = ThreadRunner(fake), Events()
    handle = runner.submit(job("a"), events)
    run = fake.started("a")
    runner.cancel(handle, "Pruned by the search at epoch 1.")
    assert run.cancel.is_set() and run.cancel.reason == "Pruned by the search at epoch 1."  # the KILLED run's note
    assert runner.status(handle) == "running"  # until the trainer sees it
    run.end()  # the trainer reaches its next batch, sees the request and ends the run KILLED
    assert events.end().state == "cancelled"


def test_threads_have_no_cap_of_their_own_and_leave_nothing_to_adopt_after_a_restart(fake):
    runner = ThreadRunner(fake)
    assert runner.capacity() is None and not runner.detached  # the manager's max_concurrent is the cap
    for name in "abc":
        runner.submit(job(name), Events())
    for name in "abc":
        fake.started(name)  # all three at once: none waits for another to end
    assert runner.running_jobs() == []
    with pytest.raises(ValueError, match="adopt no jobs"):
        runner.adopt(RunningJob("thread-1", "a" * 32, "a", CFG, "train", 0.0), Events())


def test_each_running_job_has_its_own_named_daemon_thread(fake):
    runner = ThreadRunner(fake)
    runner.submit(job("a", job_id="job-1"), Events()), runner.submit(job("b", job_id="job-2"), Events())
    fake.started("a"), fake.started("b")
    threads = {t.name: t for t in threading.enumerate()}
    for job_id, name in (("job-1", "a"), ("job-2", "b")):
        thread = threads[f"cnnkit {job_id}: {name}"]
        assert thread.daemon and thread.is_alive()


def test_a_cancelled_lr_find_job_ends_cancelled():
    started = threading.Event()

    def blocking_range_test(cfg, *, steps, cancel):
        started.set()
        assert cancel.wait(TIMEOUT)
        raise training.Cancelled()  # what lr_range_test does at the next batch

    runner, events = ThreadRunner(range_tester=blocking_range_test), Events()
    handle = runner.submit(job("range test", kind="lr_find"), events)
    assert started.wait(TIMEOUT)
    runner.cancel(handle, "Cancelled by the user.")
    assert events.end() == JobEnded("cancelled")


def test_a_job_refused_for_a_persons_reason_fails_with_that_one_line():
    def refused(cfg, **kwargs):
        raise StoreError("User reader may not launch runs in experiment cnnkit (permission READ): that needs EDIT.")

    events = Events()
    ThreadRunner(refused).submit(job("refused"), events)
    assert events.end() == JobEnded(
        "failed", "User reader may not launch runs in experiment cnnkit (permission READ): that needs EDIT.")

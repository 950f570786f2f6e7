"""The job manager: one FIFO queue under a concurrency cap, cancelling, failures, snapshots and
histories, with a fake trainer the tests drive step by step; then real tiny digits runs."""

import dataclasses
import threading
from collections import defaultdict

import numpy as np
import pytest

from cnnkit import tracking, training
from cnnkit.jobs import manager as jobs
from cnnkit.tracking.store_opening import make_client
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs import JobManager
from cnnkit.jobs.thread_runner import ThreadRunner
from cnnkit.training import Progress, RangeTest, RunResult, accelerators
from cnnkit.models.schedules import LRSuggestion

TIMEOUT = 30  # seconds; only a broken manager ever waits this long
CFG = TrainConfig(dataset="digits", arch="kaggle_mnist_cnn", epochs=1, train_limit=200)


class FakeRun:
    """One call of the fake trainer, as the test sees it."""

    def __init__(self):
        self.started, self.ended = threading.Event(), threading.Event()
        self.status, self.error, self.raises = "FINISHED", None, None
        self.cancel = self.on_progress = None

    def end(self, status="FINISHED", error=None, raises=None):
        """Let the trainer return `status` (KILLED anyway if its cancel event is set), or raise."""
        self.status, self.error, self.raises = status, error, raises
        self.ended.set()


class FakeTrainer:
    """Stands in for training.train: each call creates "run-<name>", then blocks until the test
    ends it. Tests report progress through the run's on_progress, from their own thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs = defaultdict(FakeRun)  # by run name

    def run(self, name) -> FakeRun:
        with self.lock:
            return self.runs[name]

    def started(self, name) -> FakeRun:
        run = self.run(name)
        assert run.started.wait(TIMEOUT), f"{name} never started"
        return run

    def release_all(self):
        with self.lock:
            for run in self.runs.values():
                run.ended.set()

    def __call__(self, cfg, *, tracking_uri, experiment, run_name, cancel, on_progress, on_run_created, tags=None):
        run = self.run(run_name)
        run.cancel, run.on_progress = cancel, on_progress
        on_run_created(f"run-{run_name}")
        run.started.set()
        assert run.ended.wait(TIMEOUT), f"the test never ended {run_name}"
        if run.raises:
            raise run.raises
        return RunResult(f"run-{run_name}", "KILLED" if cancel.is_set() else run.status, {}, run.error)


@pytest.fixture
def fake():
    return FakeTrainer()


@pytest.fixture
def make_manager(fake):
    """Builds managers on the fake trainer (one job at a time unless told), without a store,
    and shuts them down after the test."""
    made = []

    def make(max_concurrent=1, **kwargs):
        made.append(JobManager(max_concurrent=max_concurrent, trainer=fake, recover_stale_runs=False, **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.shutdown(timeout=0)  # closed first: a job ending below starts no queued one, to wait out TIMEOUT
    fake.release_all()
    for each in made:
        each.shutdown(timeout=TIMEOUT)


def states(manager, *job_ids):
    return [manager.snapshot(job_id).state for job_id in job_ids]


def batch(step, loss=1.0, lr=1e-3):
    metrics = {"batch_loss": loss, "batch_lr": lr}
    return Progress("training", 1, 1, step, 10**6, event="batch", step=step, metrics=metrics,
                    batch_points=((step, loss, lr),))


def epoch(n, **metrics):
    return Progress("training", n, 3, 10, 10, event="epoch", step=10 * n, metrics=metrics)


# ---- queue and concurrency cap -------------------------------------------------------


def test_jobs_beyond_the_cap_wait_in_fifo_order_and_start_as_others_end(make_manager, fake):
    manager = make_manager(max_concurrent=1)
    a, b, c = manager.submit(CFG, "a"), manager.submit(CFG, "b"), manager.submit(CFG, "c")
    assert states(manager, a, b, c) == ["running", "queued", "queued"]
    assert [manager.snapshot(j).queue_position for j in (a, b, c)] == [None, 1, 2]
    assert [s.job_id for s in manager.snapshots()] == [c, b, a]  # newest first

    fake.started("a").end()
    assert manager.wait(a, TIMEOUT).state == "finished"
    assert states(manager, b, c) == ["running", "queued"]  # b started as a ended, before wait returned
    assert manager.snapshot(c).queue_position == 1
    assert not fake.run("c").started.is_set()


def test_a_run_being_resumed_is_not_resumed_twice_until_its_job_ends(make_manager, fake, monkeypatch):
    monkeypatch.setattr(training, "resumable", lambda run_id, tracking_uri: None)  # no store: every run resumes
    monkeypatch.setattr(tracking.RunStore, "__init__", lambda store, tracking_uri=None: None)
    monkeypatch.setattr(tracking.RunStore, "config_of_run", lambda store, run_id: CFG)
    release, run_id = threading.Event(), "a" * 32

    def resumer(run_id, *, tracking_uri, cancel, on_progress, on_run_created):
        on_run_created(run_id)
        assert release.wait(TIMEOUT)
        return RunResult(run_id, "FINISHED", {})

    manager = make_manager(resumer=resumer)
    manager.submit(CFG, "first")  # holds the only slot: the resume waits in the queue
    queued = manager.resume(run_id)
    assert (manager.snapshot(queued).state, manager.snapshot(queued).run_id) == ("queued", run_id)
    with pytest.raises(InputError, match=f"Run {run_id} is being resumed already"):
        manager.resume(run_id)
    assert len(manager.snapshots()) == 2  # the second click queued nothing
    fake.started("first").end()
    release.set()
    assert manager.wait(queued, TIMEOUT).state == "finished"
    assert manager.wait(manager.resume(run_id), TIMEOUT).state == "finished"  # ended: it may be resumed again


def test_raising_the_cap_starts_queued_jobs_at_once(make_manager):
    manager = make_manager(max_concurrent=1)
    a, b, c = manager.submit(CFG, "a"), manager.submit(CFG, "b"), manager.submit(CFG, "c")
    manager.set_max_concurrent(2)
    assert manager.max_concurrent == 2
    assert states(manager, a, b, c) == ["running", "running", "queued"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError):
            manager.set_max_concurrent(bad)
    with pytest.raises(InputError):
        JobManager(max_concurrent=0, recover_stale_runs=False)


class SlottedRunner(ThreadRunner):
    """A runner with a capacity of its own, as a cluster's job slots are; its jobs train in threads."""

    def __init__(self, trainer, slots):
        super().__init__(trainer)
        self.slots = slots

    def capacity(self):
        return self.slots


def test_a_runner_with_capacity_3_gets_3_jobs_at_once_and_the_4th_waits(make_manager, fake):
    manager = make_manager(max_concurrent=1, runner=SlottedRunner(fake, 3))
    jobs = [manager.submit(CFG, name) for name in "abcd"]
    assert (manager.slots(), manager.slots_set_by_runner()) == (3, True)
    assert states(manager, *jobs) == ["running"] * 3 + ["queued"]
    manager.set_max_concurrent(1)  # the manager's own cap does not hold back the runner's slots
    assert states(manager, *jobs) == ["running"] * 3 + ["queued"]
    fake.started("a").end()
    assert manager.wait(jobs[0], TIMEOUT).state == "finished"
    assert states(manager, *jobs[1:]) == ["running"] * 3  # the freed slot went to the 4th


def test_without_a_runner_capacity_the_managers_max_concurrent_holds(make_manager, fake):
    manager = make_manager(max_concurrent=2, runner=SlottedRunner(fake, None))
    jobs = [manager.submit(CFG, name) for name in "abc"]
    assert (manager.slots(), manager.slots_set_by_runner()) == (2, False)
    assert states(manager, *jobs) == ["running", "running", "queued"]
    assert make_manager(max_concurrent=3).slots() == 3  # the thread runner has no cap of its own


def test_slots_the_runner_gains_are_taken_at_a_running_jobs_next_report(make_manager, fake):
    runner = SlottedRunner(fake, 1)
    manager = make_manager(runner=runner)
    a, b = manager.submit(CFG, "a"), manager.submit(CFG, "b")
    assert states(manager, a, b) == ["running", "queued"]
    runner.slots = 2  # a node joined the cluster
    fake.started("a").on_progress(batch(1))
    assert states(manager, a, b) == ["running", "running"]


# ---- cancelling ------------------------------------------------------------------------


def test_cancelling_a_queued_job_drops_it_at_once_and_it_never_starts(make_manager, fake):
    manager = make_manager(max_concurrent=1)
    a, b, c = manager.submit(CFG, "a"), manager.submit(CFG, "b"), manager.submit(CFG, "c")
    manager.cancel(b)
    cancelled = manager.snapshot(b)
    assert cancelled.state == "cancelled" and not cancelled.is_active
    assert cancelled.run_id is None and cancelled.started_at is None and cancelled.ended_at is not None
    assert manager.snapshot(c).queue_position == 1

    fake.started("a").end()
    manager.wait(a, TIMEOUT)
    fake.started("c").end()
    manager.wait(c, TIMEOUT)
    assert "b" not in fake.runs  # the trainer was never called for b, so no MLflow run exists
    assert states(manager, a, b, c) == ["finished", "cancelled", "finished"]


def test_cancelling_a_running_job_sets_its_event_and_it_ends_cancelled(make_manager, fake):
    manager = make_manager()
    job = manager.submit(CFG, "a")
    run = fake.started("a")
    manager.cancel(job)
    assert run.cancel.is_set()
    stopping = manager.snapshot(job)
    assert stopping.state == "running" and stopping.cancel_requested  # until the trainer returns
    run.end()  # the trainer reaches its next batch, sees the event and ends the run KILLED
    ended = manager.wait(job, TIMEOUT)
    assert ended.state == "cancelled" and ended.result.status == "KILLED" and ended.error is None
    assert ended.run_id == "run-a"


def test_one_visitor_may_have_at_most_its_cap_of_jobs_queued_or_running(make_manager, fake):
    manager = make_manager(max_concurrent=1, max_active_per_visitor=2)
    a, b = manager.submit(CFG, "a", visitor="alice"), manager.submit_lr_find(CFG, visitor="alice")
    with pytest.raises(InputError, match="already have 2 jobs queued or running, the most one visitor may have"):
        manager.submit(CFG, "c", visitor="alice")
    assert len(manager.snapshots()) == 2  # the refused launch left nothing behind
    other = manager.submit(CFG, "bob's", visitor="bob")  # others are not held back by alice's jobs
    manager.submit(CFG, "operator")  # nor is code that names no visitor
    manager.cancel(b)
    manager.submit(CFG, "c", visitor="alice")  # a cancelled job frees its place
    fake.started("a").end()
    manager.wait(a, TIMEOUT)
    manager.submit(CFG, "d", visitor="alice")  # so does an ended one
    assert states(manager, other) == ["running"]


def test_a_visitor_may_cancel_only_its_own_jobs_and_the_operator_any(make_manager, fake):
    manager = make_manager(max_concurrent=2)
    alices, bobs = manager.submit(CFG, "a", visitor="alice"), manager.submit(CFG, "b", visitor="bob")
    assert manager.snapshot(alices).may_be_cancelled_by("alice") and not manager.snapshot(alices).may_be_cancelled_by("bob")
    with pytest.raises(InputError, match="a was launched by another visitor: only they, or whoever runs this server"):
        manager.cancel(alices, visitor="bob")
    assert not fake.started("a").cancel.is_set()  # alice's run goes on
    manager.cancel(alices, visitor="alice")
    manager.cancel(bobs)  # the operator's own code names no visitor
    assert fake.started("a").cancel.is_set() and fake.started("b").cancel.is_set()


@pytest.mark.parametrize("text, cap", [(None, jobs.DEFAULT_VISITOR_CAP), ("7", 7), (" 0 ", None)])
def test_the_visitor_cap_comes_from_the_environment(monkeypatch, text, cap):
    if text is None:
        monkeypatch.delenv(jobs.VISITOR_CAP_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(jobs.VISITOR_CAP_VARIABLE, text)
    assert jobs.visitor_cap_from_environment() == cap


@pytest.mark.parametrize("text", ["-1", "many", "2.5"])
def test_a_bad_visitor_cap_names_the_variable(monkeypatch, text):
    monkeypatch.setenv(jobs.VISITOR_CAP_VARIABLE, text)
    with pytest.raises(InputError, match="CNNKIT_MAX_JOBS_PER_VISITOR must be a whole number"):
        jobs.visitor_cap_from_environment()


def test_cancelling_an_ended_job_changes_nothing_and_unknown_ids_are_input_errors(make_manager, fake):
    manager = make_manager()
    job = manager.submit(CFG, "a")
    fake.started("a").end()
    before = manager.wait(job, TIMEOUT)
    manager.cancel(job)
    assert manager.snapshot(job) == before
    for call in (manager.cancel, manager.snapshot, manager.wait):
        with pytest.raises(InputError, match="nope"):
            call("nope")
    assert manager.find("nope") is None and manager.find(job) == before


def test_shutdown_cancels_queued_and_running_jobs_and_joins_their_threads(make_manager, fake):
    manager = make_manager(max_concurrent=1)
    a, b = manager.submit(CFG, "a"), manager.submit(CFG, "b")
    run = fake.started("a")
    honour_cancel = threading.Thread(target=lambda: run.cancel.wait(TIMEOUT) and run.end(), daemon=True)
    honour_cancel.start()  # like the real trainer, a's run stops once its cancel event is set
    manager.shutdown(timeout=TIMEOUT)
    assert states(manager, a, b) == ["cancelled", "cancelled"]
    assert not any(t.name.startswith(f"cnnkit {a}") for t in threading.enumerate())
    with pytest.raises(RuntimeError):
        manager.submit(CFG)


# ---- failures --------------------------------------------------------------------------


def test_a_failed_run_makes_a_failed_job_with_its_error(make_manager, fake):
    manager = make_manager()
    job = manager.submit(CFG, "a")
    fake.started("a").end("FAILED", "ValueError: bad data")
    ended = manager.wait(job, TIMEOUT)
    assert (ended.state, ended.error, ended.result.status) == ("failed", "ValueError: bad data", "FAILED")


def test_a_trainer_that_raises_fails_its_job_and_the_manager_runs_the_next_one(make_manager, fake):
    manager = make_manager(max_concurrent=1)
    a, b = manager.submit(CFG, "a"), manager.submit(CFG, "b")
    fake.started("a").end(raises=ZeroDivisionError("a bug"))
    ended = manager.wait(a, TIMEOUT)
    assert ended.state == "failed" and ended.error == "ZeroDivisionError: a bug" and ended.result is None
    fake.started("b").end()
    assert manager.wait(b, TIMEOUT).state == "finished"


# ---- snapshots and histories -----------------------------------------------------------


def test_snapshots_are_frozen_copies_that_later_progress_does_not_change(make_manager, fake):
    manager = make_manager()
    job = manager.submit(CFG, "a")
    run = fake.started("a")
    run.on_progress(epoch(1, loss=2.0))
    run.on_progress(batch(11, loss=1.5))
    early = manager.snapshot(job)
    with pytest.raises(dataclasses.FrozenInstanceError):
        early.state = "finished"
    early.epoch_history[0]["loss"] = -1.0  # a page scribbling on its copy

    run.on_progress(epoch(2, loss=1.0))
    run.end()
    late = manager.wait(job, TIMEOUT)
    assert early.state == "running" and late.state == "finished"
    assert len(early.epoch_history) == 1 and len(early.batch_history) == 1
    assert late.epoch_history == ({"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0})


def test_epoch_and_batch_histories_and_progress_come_from_the_trainers_reports(make_manager, fake):
    manager = make_manager()
    job = manager.submit(CFG, "a")
    run = fake.started("a")
    assert manager.snapshot(job).run_id == "run-a"  # known as soon as the run exists
    run.on_progress(Progress("loading data"))
    run.on_progress(batch(1, 2.5, 0.01))
    run.on_progress(batch(2, 2.0, 0.02))
    run.on_progress(epoch(1, loss=2.2, val_accuracy=0.5))
    now = manager.snapshot(job)
    assert now.batch_history == ((1, 2.5, 0.01), (2, 2.0, 0.02))
    assert now.epoch_history == ({"epoch": 1, "loss": 2.2, "val_accuracy": 0.5},)
    assert now.progress.event == "epoch" and now.fraction == pytest.approx(1 / 3)
    assert now.elapsed_s >= 0 and now.is_active


def test_batch_history_stays_bounded_by_keeping_evenly_spaced_points(make_manager, fake):
    manager = make_manager(batch_history_cap=100)
    job = manager.submit(CFG, "a")
    run = fake.started("a")
    for step in range(1, 1001):
        run.on_progress(batch(step))
    steps = [point[0] for point in manager.snapshot(job).batch_history]
    assert 50 <= len(steps) <= 100
    assert steps[0] == 1 and len(set(np.diff(steps))) == 1  # the whole run, evenly thinned
    assert steps[-1] > 1000 - 2 * np.diff(steps)[0]


# ---- learning-rate range tests ---------------------------------------------------------


def fake_range_test(cfg, *, steps, cancel):
    rates = np.geomspace(1e-5, 1.0, steps)
    return RangeTest(rates, np.linspace(2.0, 1.0, steps), LRSuggestion(1e-3, 1e-4, 1e-2))


def test_an_lr_find_job_shares_the_queue_and_keeps_its_range_test(make_manager, fake):
    manager = make_manager(max_concurrent=1, range_tester=fake_range_test)
    manager.submit(CFG, "a")
    find_job = manager.submit_lr_find(CFG, steps=30)
    queued = manager.snapshot(find_job)
    assert (queued.kind, queued.state, queued.queue_position) == ("lr_find", "queued", 1)
    fake.started("a").end()
    found = manager.wait(find_job, TIMEOUT)
    assert found.state == "finished" and found.fraction == 1.0 and found.run_id is None
    assert len(found.result.learning_rates) == 30 and found.result.suggestion.steepest == 1e-3
    with pytest.raises(InputError):
        manager.submit_lr_find(CFG, steps=2)


# ---- construction ----------------------------------------------------------------------


def test_construction_recovers_stale_runs_and_enables_gpu_memory_growth(monkeypatch):
    calls = []
    monkeypatch.setattr(tracking.RunStore, "__init__", lambda store, uri: setattr(store, "tracking_uri", uri))
    monkeypatch.setattr(tracking.RunStore, "kill_stale_runs",
                        lambda store: calls.append(f"stale runs of {store.tracking_uri}") or ["r1", "r2"])
    monkeypatch.setattr(accelerators, "enable_memory_growth", lambda: calls.append("memory growth"))
    manager = JobManager(tracking_uri="sqlite:///runs.db")
    assert manager.recovered_runs == ["r1", "r2"]
    assert calls == ["memory growth", "stale runs of sqlite:///runs.db"]

    calls.clear()
    assert JobManager(tracking_uri="sqlite:///runs.db", recover_stale_runs=False).recovered_runs == []
    assert calls == ["memory growth"]


# ---- real training ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns')}/mlflow.db"


def test_a_real_tiny_run_finishes_with_its_mlflow_run_and_histories(store):
    manager = JobManager(tracking_uri=store)
    assert manager.recovered_runs == []  # the real recovery ran: a fresh store has nothing stale
    job = manager.submit(CFG, "tiny digits")
    ended = manager.wait(job, 120)
    manager.shutdown()
    assert ended.state == "finished", ended.error
    client = make_client(store)
    assert client.get_run(ended.run_id).info.status == "FINISHED"
    assert ended.result.run_id == ended.run_id and "test_accuracy" in ended.result.metrics
    assert [e["epoch"] for e in ended.epoch_history] == [1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds"} <= set(ended.epoch_history[0])
    logged = sorted((m.step, m.value) for m in client.get_metric_history(ended.run_id, "batch_loss"))
    assert [(step, loss) for step, loss, _ in ended.batch_history] == logged  # one point per batch
    assert ended.fraction == 1.0 and ended.eta_s is None and ended.elapsed_s > 0


def test_cancelling_a_real_run_ends_it_killed_in_mlflow(store):
    first_batch = threading.Event()

    def train_flagging_the_first_batch(cfg, *, on_progress, **kwargs):
        def report(progress):
            on_progress(progress)
            if progress.event == "batch":
                first_batch.set()

        return training.train(cfg, on_progress=report, **kwargs)

    manager = JobManager(tracking_uri=store, trainer=train_flagging_the_first_batch, recover_stale_runs=False)
    job = manager.submit(CFG.replace(epochs=50, batch_size=16), "cancelled digits")
    assert first_batch.wait(120)
    manager.cancel(job)
    ended = manager.wait(job, 120)
    manager.shutdown()
    assert ended.state == "cancelled" and ended.result.status == "KILLED"
    assert make_client(store).get_run(ended.run_id).info.status == "KILLED"
    assert 0 < len(ended.batch_history) < 50 * 12  # stopped long before its 50 epochs of 12 batches


def test_a_real_lr_find_job_returns_a_range_test(store):
    manager = JobManager(tracking_uri=store, recover_stale_runs=False)
    job = manager.submit_lr_find(CFG.replace(batch_size=16), steps=20)
    ended = manager.wait(job, 120)
    manager.shutdown()
    assert ended.state == "finished", ended.error
    assert 3 <= len(ended.result.losses) <= 20
    assert ended.result.suggestion.lower <= ended.result.suggestion.upper


def test_a_watchers_hooks_see_each_report_and_the_end_and_their_bugs_stay_theirs(make_manager, fake):
    reports, ended = [], threading.Event()

    def on_progress(progress):
        reports.append(progress.event)
        raise RuntimeError("a watcher's bug")

    manager = make_manager()
    job = manager.submit(CFG, "watched", on_progress=on_progress, on_end=lambda snapshot: ended.set())
    run = fake.started("watched")
    run.on_progress(epoch(1, loss=0.5))
    run.end()
    assert manager.wait(job, TIMEOUT).state == "finished"  # the hook's error did not fail the job
    assert ended.wait(TIMEOUT) and reports == ["epoch"]


def test_a_queued_job_cancelled_with_a_reason_reports_its_end(make_manager, fake):
    ended = []
    manager = make_manager()
    first = manager.submit(CFG, "first")
    queued = manager.submit(CFG, "second", on_end=ended.append)
    manager.cancel(queued, reason="Pruned by the search at epoch 1.")
    assert [snapshot.state for snapshot in ended] == ["cancelled"]  # at once, from the cancel
    fake.started("first").end()
    assert manager.wait(first, TIMEOUT).state == "finished"

"""The Train page's jobs panel: it polls only while a job is queued or running, and shows the phase
a run is in (validating, evaluating) with that phase's own progress."""

import threading

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import app_pages.common
from cnnkit.config import TrainConfig
from cnnkit.explorer import plain_text
from cnnkit.jobs import JobManager
from cnnkit.training import Progress, RunResult
from app_script import APP

TIMEOUT = 60


class BlockedTrainer:
    """Stands in for training.train: reports `progress`, then waits until the test releases it."""

    def __init__(self, progress: Progress):
        self.progress, self.reported, self.release = progress, threading.Event(), threading.Event()

    def __call__(self, cfg, *, on_progress, on_run_created, **kwargs):
        on_run_created("run-fake")
        on_progress(self.progress)
        self.reported.set()
        assert self.release.wait(TIMEOUT), "the test never released the run"
        return RunResult("run-fake", "FINISHED", {"test_accuracy": 0.5})


@pytest.fixture()
def run_every(monkeypatch) -> dict:
    """fragment name -> the run_every it was last drawn with, from every st.fragment call from now on."""
    seen, real = {}, st.fragment

    def recording(func=None, *, run_every=None, **kwargs):
        if func is None:  # used as @st.fragment(...)
            return lambda f: recording(f, run_every=run_every, **kwargs)
        seen[func.__name__] = run_every
        return real(func, run_every=run_every, **kwargs)

    monkeypatch.setattr(st, "fragment", recording)
    return seen


@pytest.fixture()
def manager_on(app, monkeypatch, tmp_path):
    """Makes the app use a job manager whose runs are `trainer`."""
    made = []

    def make(trainer):
        made.append(JobManager(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", trainer=trainer,
                               recover_stale_runs=False))
        monkeypatch.setattr(app_pages.common, "job_manager", lambda: made[-1])
        return made[-1]

    yield make
    for manager in made:
        manager.shutdown(timeout=TIMEOUT)


def test_an_idle_train_page_does_not_poll(app, run_every):
    at = app.run()
    assert not at.exception
    assert run_every["jobs_panel"] is None and run_every.get("lr_finder_panel") is None  # no range test: not drawn


def test_a_running_job_is_polled_with_its_validation_progress_and_polling_stops_when_it_ends(app, run_every, manager_on):
    validating = Progress("validating", 2, 5, 10, 10, event="pass", step=20, pass_batch=3, pass_batches=10,
                          pass_images=1200)
    trainer = BlockedTrainer(validating)
    manager = manager_on(trainer)
    job_id = manager.submit(TrainConfig(), name="fake run")
    assert trainer.reported.wait(TIMEOUT)
    at = app.run()
    assert not at.exception
    assert run_every["jobs_panel"] == 1.0
    [bar] = [element for element in at.get("progress") if "validating" in element.proto.text]
    assert bar.proto.text == "validating on 1,200 images after epoch 2/5 · batch 3/10" and bar.proto.value == 30
    trainer.release.set()
    assert manager.wait(job_id, TIMEOUT).state == "finished"
    at.run()
    assert not at.exception
    assert run_every["jobs_panel"] is None
    assert any("finished after" in markdown.value for markdown in at.markdown)


def test_another_machines_visitor_cannot_cancel_a_job_it_did_not_launch(app, manager_on, monkeypatch):
    import app_pages.common

    trainer = BlockedTrainer(Progress("training", 1, 5, 1, 10, event="batch", step=1))
    manager = manager_on(trainer)
    theirs = manager.submit(TrainConfig(), name="their run", visitor="address 10.0.0.9")
    assert trainer.reported.wait(TIMEOUT)
    monkeypatch.setattr(app_pages.common, "canceller", lambda: "address 10.0.0.7")
    at = app.run()
    [cancel] = [button for button in at.button if button.label == "Cancel"]
    assert cancel.disabled and "another visitor" in cancel.help
    monkeypatch.setattr(app_pages.common, "canceller", lambda: None)  # this machine: the operator
    at.run()
    [cancel] = [button for button in at.button if button.label == "Cancel"]
    assert not cancel.disabled
    cancel.click().run()
    assert manager.snapshot(theirs).cancel_requested
    trainer.release.set()


RUNNING = Progress("training", 1, 5, 1, 10, event="batch", step=1)


class StoppableTrainer(BlockedTrainer):
    """Like BlockedTrainer, but a cancel ends the run KILLED, as training.train ends a cancelled run."""

    def __call__(self, cfg, *, on_progress, on_run_created, cancel, **kwargs):
        on_run_created(f"run-{cfg.seed}")
        on_progress(self.progress)
        self.reported.set()
        while not (self.release.wait(0.05) or cancel.is_set()):
            pass
        if cancel.is_set():
            return RunResult(f"run-{cfg.seed}", "KILLED", {}, error=cancel.reason)
        return RunResult(f"run-{cfg.seed}", "FINISHED", {"test_accuracy": 0.5})


def as_visitor(monkeypatch, who: str) -> None:
    monkeypatch.setattr(app_pages.common, "visitor", lambda: who)


def live_view_heading(at) -> str | None:
    return next((header.value for header in at.subheader if header.value.startswith("Live view · ")), None)


def buttons(at, label: str) -> list:
    return [button for button in at.button if button.label == label]


def running_jobs(manager, trainer, names, visitor) -> dict[str, str]:
    """Submit one job per name for `visitor` (oldest first) and wait until each reports running."""
    jobs = {}
    for seed, name in enumerate(names):
        trainer.reported.clear()
        jobs[name] = manager.submit(TrainConfig(seed=seed), name=name, visitor=visitor)
        assert trainer.reported.wait(TIMEOUT)
    return jobs


def test_a_running_job_can_be_watched_and_a_reload_keeps_watching_it(app, manager_on, monkeypatch):
    trainer = StoppableTrainer(RUNNING)
    manager = manager_on(trainer)
    jobs = running_jobs(manager, trainer, ["run B", "run C"], "address 10.0.0.7")
    as_visitor(monkeypatch, "address 10.0.0.7")
    at = app.run()
    assert live_view_heading(at) == "Live view · run C (running)"  # their newest active job
    [watch_b] = [button for button in buttons(at, "Watch") if button.key == f"watch-{jobs['run B']}"]
    watch_b.click().run()
    assert not at.exception
    assert live_view_heading(at) == "Live view · run B (running)"
    assert at.query_params["job"] == jobs["run B"]
    assert [button.key for button in buttons(at, "Watching")] == [f"watch-{jobs['run B']}"]

    as_visitor(monkeypatch, "session reloaded")  # a reload on this machine is a new session
    reloaded = AppTest.from_file(APP, default_timeout=120)
    reloaded.query_params["job"] = jobs["run B"]
    reloaded.run()
    assert live_view_heading(reloaded) == "Live view · run B (running)"
    trainer.release.set()


def test_a_launched_job_is_named_in_the_address_so_a_reload_keeps_watching_it(app, manager_on, monkeypatch):
    trainer = StoppableTrainer(RUNNING)
    manager = manager_on(trainer)
    as_visitor(monkeypatch, "session first")
    at = app.run()
    buttons(at, "Launch training")[0].click().run()
    [launched] = manager.snapshots()
    assert at.query_params["job"] == launched.job_id
    assert live_view_heading(at) == f"Live view · {plain_text.markdown(launched.name)} (running)"
    trainer.release.set()


def test_a_new_visitor_is_not_shown_another_visitors_job_unless_they_choose_it(app, manager_on, monkeypatch):
    trainer = StoppableTrainer(RUNNING)
    manager = manager_on(trainer)
    running_jobs(manager, trainer, ["their run"], "address 10.0.0.9")
    manager.cancel(manager.submit(TrainConfig(), name="their cancelled run", visitor="address 10.0.0.9"))
    as_visitor(monkeypatch, "address 10.0.0.7")
    at = app.run()
    assert live_view_heading(at) is None
    assert any("Watch" in caption.value for caption in at.caption)  # how to follow one
    buttons(at, "Watch")[0].click().run()
    assert live_view_heading(at) == "Live view · their run (running)"
    trainer.release.set()


def test_ended_jobs_fold_away_below_the_active_ones_and_the_live_view(app, manager_on, monkeypatch):
    trainer = StoppableTrainer(RUNNING)
    manager = manager_on(trainer)
    for seed in range(3):
        manager.cancel(manager.submit(TrainConfig(seed=seed), name=f"old run {seed}", visitor="address 10.0.0.7"))
    running_jobs(manager, trainer, ["active run"], "address 10.0.0.7")
    as_visitor(monkeypatch, "address 10.0.0.7")
    at = app.run()
    [folded] = at.expander
    assert folded.label == "3 ended jobs"
    assert [button.key for button in folded.button] == [f"watch-{job.job_id}" for job in manager.snapshots()[1:]]
    cards_outside = [button for button in at.button if button.label == "Cancel"]
    assert len(cards_outside) == 1  # the active job's card, outside the fold
    trainer.release.set()


def test_the_folded_list_draws_only_the_newest_ended_jobs(app, manager_on, monkeypatch):
    import app_pages.train_jobs

    monkeypatch.setattr(app_pages.train_jobs, "ENDED_SHOWN", 2)
    manager = manager_on(StoppableTrainer(RUNNING))
    for seed in range(3):
        manager.cancel(manager.submit(TrainConfig(seed=seed), name=f"old run {seed}", visitor="address 10.0.0.7"))
    as_visitor(monkeypatch, "address 10.0.0.7")
    at = app.run()
    [folded] = at.expander
    assert folded.label == "3 ended jobs"  # the count is every ended job's
    assert [button.key for button in folded.button] == [f"watch-{job.job_id}" for job in manager.snapshots()[:2]]
    assert any(caption.value == "… and 1 older, on the Runs page." for caption in folded.caption)


def test_cancel_shows_cancelling_at_once_and_a_cancelled_job_is_no_error(app, manager_on, monkeypatch):
    trainer = BlockedTrainer(RUNNING)  # it takes no notice of the cancel: the job keeps running
    manager = manager_on(trainer)
    job_id = manager.submit(TrainConfig(), name="slow to stop", visitor="address 10.0.0.7")
    assert trainer.reported.wait(TIMEOUT)
    as_visitor(monkeypatch, "address 10.0.0.7")
    monkeypatch.setattr(app_pages.common, "canceller", lambda: None)
    at = app.run()
    buttons(at, "Cancel")[0].click().run()
    assert manager.snapshot(job_id).state == "running"  # still stopping
    [cancelling] = buttons(at, "Cancelling…")
    assert cancelling.disabled
    assert any(bar.proto.text.startswith("cancelling") for bar in at.get("progress"))
    assert not any("ETA" in bar.proto.text for bar in at.get("progress"))
    trainer.release.set()


def test_a_cancelled_jobs_note_is_not_shown_as_an_error(app, manager_on, monkeypatch):
    trainer = StoppableTrainer(RUNNING)
    manager = manager_on(trainer)
    [job_id] = running_jobs(manager, trainer, ["stopped run"], "address 10.0.0.7").values()
    manager.cancel(job_id, reason="Pruned by the search.")
    assert manager.wait(job_id, TIMEOUT).state == "cancelled"
    as_visitor(monkeypatch, "address 10.0.0.7")
    at = app.run()
    assert not [error for error in at.error if "Pruned" in error.value]
    assert any("Pruned by the search." in caption.value for caption in at.caption)

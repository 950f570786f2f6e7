"""The Train page's jobs panel: it polls only while a job is queued or running, and shows the phase
a run is in (validating, evaluating) with that phase's own progress."""

import threading

import pytest
import streamlit as st

import app_pages.common
from cnnkit.config import TrainConfig
from cnnkit.jobs import JobManager
from cnnkit.training import Progress, RunResult

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

"""cnnkit.explorer.job_view: how the Train page tells its jobs, with stand-in jobs."""

from types import SimpleNamespace

import pytest

from cnnkit.config import TrainConfig
from cnnkit.explorer import job_view
from cnnkit.training import Progress, RunResult


def job(job_id="j1", state="running", **fields):
    defaults = dict(job_id=job_id, state=state, is_active=state in ("queued", "running"), name=f"run {job_id}",
                    visitor="me", cancel_requested=False, error=None,
                    config=TrainConfig(dataset="digits"), run_id=None, device=None, progress=None, fraction=0.25,
                    eta_s=75, elapsed_s=9, result=None, epoch_history=[], batch_history=[])
    return SimpleNamespace(**{**defaults, **fields})


def test_durations_read_at_a_glance():
    assert [job_view.duration(s) for s in (None, 9, 75, 600.7)] == ["–", "9s", "1m 15s", "10m 00s"]


def test_the_view_follows_the_chosen_job_else_the_visitors_newest_active_else_their_newest():
    theirs, done, running, old = (job("t", "running", visitor="them"), job("a", "finished"), job("c", "running"),
                                  job("o", "cancelled"))
    jobs = [theirs, done, running, old]  # newest first
    assert job_view.job_to_watch(jobs, "t", "me") is theirs  # anyone's job, once chosen
    assert job_view.job_to_watch(jobs, "gone", "me") is running  # not the newer finished one, nor theirs
    assert job_view.job_to_watch([theirs, done, old], None, "me") is done
    assert job_view.job_to_watch([theirs, old], None, "newcomer") is None  # never a stranger's job unasked
    # the operator (a tab on the server's machine, visitor None): every job is theirs, so a tab opened
    # again follows the running job it launched from another tab
    assert job_view.job_to_watch([done, running, old], None, None) is running


def test_a_cancel_asked_for_shows_at_once_and_a_cancelled_jobs_reason_is_its_note():
    stopping = job(cancel_requested=True, eta_s=75)
    assert job_view.state_word(stopping) == "cancelling" and job_view.state_word(job()) == "running"
    assert job_view.progress_bar(stopping)[1].startswith("cancelling…")
    assert "ETA" not in job_view.live_bar_text(stopping) and "ETA 1m 15s" in job_view.live_bar_text(job())
    killed = RunResult("r", "KILLED", {}, error="Pruned by the search.")
    assert job_view.end_note(job(state="cancelled", cancel_requested=True, result=killed)) == "Pruned by the search."
    assert job_view.end_note(job(state="failed", error="Loss diverged.")) == "Loss diverged."
    assert job_view.end_note(job(state="finished", result=RunResult("r", "FINISHED", {}))) is None


def test_a_jobs_title_names_it_its_run_and_device_as_plain_text():
    title = job_view.job_title(job(name="*bold* run", run_id="0123456789ab", device="GPU 0"))
    assert title.startswith(r"**\*bold\* run**") and "run `01234567`" in title and ":material/memory: GPU 0" in title
    assert "`" not in job_view.job_title(job())


def test_a_validation_pass_gets_its_own_bar_and_training_the_runs_bar_with_its_eta():
    validating = Progress("validating", 2, 5, 10, 10, event="pass", step=20, pass_batch=3, pass_batches=10,
                          pass_images=1200)
    assert job_view.progress_bar(job(progress=validating)) == (0.3, validating.describe())
    assert job_view.progress_bar(job()) == (0.25, "starting · ETA 1m 15s")


def test_an_ended_job_says_how_long_it_ran_and_a_finished_one_its_test_accuracy():
    finished = job(state="finished", result=RunResult("r", "FINISHED", {"test_accuracy": 0.9712}))
    assert job_view.ended_line(finished) == ":material/check_circle: finished after 9s · test accuracy 97.12%"
    assert job_view.ended_line(job(state="cancelled")) == ":material/cancel: cancelled after 9s"


def test_the_latest_epoch_line_shows_only_the_curves():
    assert job_view.latest_epoch_line(job()) == ""
    ran = job(epoch_history=[{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.51234, "val_accuracy": 0.9, "seconds": 3.2}])
    assert job_view.latest_epoch_line(ran) == "loss 0.5123 · val_accuracy 0.9"


def test_live_figures_add_the_batch_views_after_the_first_batch():
    curves, batch_figures = job_view.live_figures([{"epoch": 1, "loss": 1.0}], [])
    assert curves.layout.title.text == "Learning curves" and batch_figures == {}
    _, batch_figures = job_view.live_figures([], [(1, 2.0, 0.1), (2, 1.5, 0.1)])
    assert list(batch_figures) == ["batch", "lr"]
    assert list(batch_figures["lr"].data[0].y) == pytest.approx([0.1, 0.1])


def test_live_learning_curves_follow_the_chosen_x_axis():
    history = [{"epoch": 1, "loss": 1.0, "elapsed_s": 12.0}, {"epoch": 2, "loss": 0.5, "elapsed_s": 30.0}]
    curves, _ = job_view.live_figures(history, [], x="time")
    assert list(curves.data[0].x) == [12.0, 30.0] and curves.layout.xaxis.title.text == "Wall time of training (s)"

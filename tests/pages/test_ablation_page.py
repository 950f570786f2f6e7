"""The Ablation page through AppTest: define an ablation, see its size or what is wrong with it, launch a
tiny digits ablation (2 factors × 2 seeds) and read its analysis; cancel one as a whole."""

import json
import time

import pytest

from cnnkit import tracking
from cnnkit.tracking import run_schema
from alerts import alert_text

PAGE = "app_pages/ablation.py"


def ablation_page(app):
    at = app.switch_page(PAGE).run()
    assert not at.exception and at.title[0].value == "Ablation"
    return at


def chart_titles(at) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def tiny_ablation(at, changes="epochs=1, train_limit=100"):
    at.text_input(key="ablation.changes").set_value(changes).run()
    at.multiselect(key="ablation.factors").set_value(["flip", "batch_norm"]).run()
    return at


def launch_button(at):
    return next(button for button in at.button if button.label == "Launch the ablation")


def wait_for_ablation_jobs(count: int, timeout: float = 400) -> list:
    """The job manager's train jobs once `count` of them exist and none is queued or running."""
    from app_pages.common import job_manager

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = job_manager().snapshots()
        if len(jobs) == count and not any(job.is_active for job in jobs):
            return jobs
        time.sleep(0.5)
    raise AssertionError(f"the ablation's {count} jobs did not all end in time")


def test_an_ablation_shows_its_size_and_a_bad_level_is_named_by_its_label(app):
    at = tiny_ablation(ablation_page(app))
    assert any(caption.value == "8 runs: 4 cells × 2 seeds." for caption in at.caption)
    assert not launch_button(at).disabled
    at.multiselect(key="ablation.factors").set_value(["flip", "learning_rate"]).run()
    at.text_input(key="ablation.levels.learning_rate").set_value("0.001, fast").run()
    assert [alert_text(error) for error in at.error] == ["Learning rate: 'fast' is not a valid number."]
    assert launch_button(at).disabled
    at.text_input(key="ablation.levels.learning_rate").set_value("0.001, 0.01").run()
    at.text_input(key="ablation.changes").set_value("epochs=zero").run()
    assert [alert_text(error) for error in at.error] == ["Epochs: 'zero' is not a valid whole number."]
    assert at.multiselect(key="ablation.factors").value == ["flip", "learning_rate"]  # kept while the base is wrong
    at.text_input(key="ablation.changes").set_value("epochs=1").run()
    at.selectbox(key="ablation.preset").set_value("seed002_ablation").run()
    assert any(caption.value == "12 runs: 4 cells × 3 seeds." for caption in at.caption), [alert_text(e) for e in at.error]


@pytest.mark.slow
def test_a_tiny_digits_ablation_runs_every_cell_and_seed_and_shows_its_effects_cells_and_curves(app):
    at = tiny_ablation(ablation_page(app))
    launch_button(at).click().run()
    assert not at.exception
    jobs = wait_for_ablation_jobs(8)
    assert {job.state for job in jobs} == {"finished"}
    at.run()
    assert not at.exception
    assert any("8 of 8 runs done" in bar.proto.text for bar in at.get("progress"))
    runs = tracking.RunStore().ablation_runs(at.session_state["ablation.launched"])
    assert len(runs) == 8 and set(runs["status"]) == {"FINISHED"} and runs[run_schema.TEST_ACCURACY].notna().all()
    assert at.selectbox(key="ablation.metric").value == run_schema.TEST_ACCURACY
    frames = {tuple(frame.value.columns[:2]): frame.value for frame in at.dataframe}
    effects = frames["factor", "level"]
    assert effects[["factor", "level", "baseline", "seeds"]].values.tolist() == [
        ["Random flips", "horizontal", "none", 2], ["Batch normalisation", "False", "True", 2]]
    assert (effects["low"] <= effects["effect"]).all() and (effects["effect"] <= effects["high"]).all()
    cells = frames["Random flips", "Batch normalisation"]
    assert len(cells) == 4 and cells["runs"].tolist() == [2, 2, 2, 2]
    titles = chart_titles(at)
    assert any("mean ± std over seeds" in title for title in titles) and any("95 % interval" in title for title in titles)

    # Compare draws a cell's two seeds as one line with a band, or each run when asked
    same_cell = runs[runs["cell"].map({"flip": "none", "batch_norm": "True"}.__eq__)]["run_id"].tolist()
    at.session_state["compare_runs"] = [*same_cell, runs["run_id"].iloc[-1]]
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and len(same_cell) == 2
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "mean ± std over seeds" in curves["layout"]["title"]["text"]
    assert [trace["name"] for trace in curves["data"] if trace.get("showlegend") is not False][0].endswith("(2 seeds)")
    at.toggle(key="compare.each_seed").set_value(True).run()
    assert "mean ± std" not in chart_titles(at)[0]


@pytest.mark.slow
def test_cancelling_an_ablation_cancels_every_run_it_queued_or_started(app):
    at = tiny_ablation(ablation_page(app), changes="epochs=200, train_limit=100")
    launch_button(at).click().run()
    at.button(key="ablation.cancel").click().run()
    from app_pages.common import job_manager

    jobs = wait_for_ablation_jobs(len(job_manager().snapshots()))  # the feeder submits no more once cancelled
    assert {job.state for job in jobs} == {"cancelled"}
    at.run()
    assert any("8 of 8 runs done · 8 failed or cancelled" in bar.proto.text for bar in at.get("progress"))
    assert [alert_text(warning) for warning in at.warning] == ["The ablation was cancelled: the runs it had not finished were stopped."]
    statuses = set(tracking.RunStore().ablation_runs(at.session_state["ablation.launched"])["status"])
    assert statuses <= {"KILLED"}

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


def test_a_first_load_says_what_to_do_in_neutral_words_and_nothing_in_red(app):
    at = ablation_page(app)
    assert not at.error and launch_button(at).disabled
    assert [info.value for info in at.info] == [
        "Choose the factors to vary: every level of each is combined with every level of the others."]
    at.multiselect(key="ablation.factors").set_value(["learning_rate"]).run()
    assert not at.error and launch_button(at).disabled
    assert [info.value for info in at.info] == ["Give the levels of Learning rate: two or more, separated by commas or spaces."]
    at.text_input(key="ablation.levels.learning_rate").set_value("0.001").run()  # now something is wrong
    assert [alert_text(error) for error in at.error] == ["Learning rate: a factor needs at least two levels, got 1."]


def test_the_choices_go_into_the_address_bar_and_a_reload_brings_them_back(app):
    at = tiny_ablation(ablation_page(app))
    at.multiselect(key="ablation.factors").set_value(["flip", "batch_norm", "learning_rate"]).run()
    at.text_input(key="ablation.levels.learning_rate").set_value("0.001 0.01").run()
    at.multiselect(key="ablation.levels.flip").set_value(["none", "vertical"]).run()
    at.number_input(key="ablation.seeds.Your own factors").set_value(3).run()
    at.text_input(key="ablation.name").set_value("flips").run()
    query = dict(at.query_params)
    assert query == {"changes": "epochs=1, train_limit=100", "seeds": "3", "factors": "flip,batch_norm,learning_rate",
                     "levels.flip": "none,vertical", "levels.batch_norm": "true,false",
                     "levels.learning_rate": "0.001 0.01", "name": "flips"}
    assert any(caption.value == "24 runs: 8 cells × 3 seeds." for caption in at.caption)

    from streamlit.testing.v1 import AppTest  # a reload: a new session with only the address

    reloaded = AppTest.from_file(app._script_path, default_timeout=120)
    reloaded.query_params.update(query)
    reloaded = ablation_page(reloaded)
    assert reloaded.multiselect(key="ablation.factors").value == ["flip", "batch_norm", "learning_rate"]
    assert reloaded.multiselect(key="ablation.levels.flip").value == ["none", "vertical"]
    assert reloaded.multiselect(key="ablation.levels.batch_norm").value == [True, False]
    assert reloaded.text_input(key="ablation.levels.learning_rate").value == "0.001 0.01"
    assert reloaded.number_input(key="ablation.seeds.Your own factors").value == 3
    assert reloaded.text_input(key="ablation.name").value == "flips"
    assert any(caption.value == "24 runs: 8 cells × 3 seeds." for caption in reloaded.caption)
    assert not reloaded.warning and not reloaded.error and dict(reloaded.query_params) == query


def test_a_launched_form_cannot_be_launched_twice_until_it_changes(app, monkeypatch):
    from cnnkit.experiments import ablations

    launched = []

    class Launch:  # as AblationLaunch, its runs all finished at once
        def __init__(self, ablation, manager, visitor=None):
            self.ablation, self.cancelled, self.error = ablation, False, None
            launched.append(ablation)

        def progress(self):
            return ablations.AblationProgress(self.ablation.size, finished=self.ablation.size)

    monkeypatch.setattr(ablations, "AblationLaunch", Launch)
    at = tiny_ablation(ablation_page(app))
    launch_button(at).click().run()
    assert len(launched) == 1 and launch_button(at).disabled
    assert any(caption.value.startswith("Launched: its progress and results are below.") for caption in at.caption)
    at.run()
    assert launch_button(at).disabled and len(launched) == 1
    at.number_input(key="ablation.seeds.Your own factors").set_value(3).run()
    assert not launch_button(at).disabled
    launch_button(at).click().run()
    assert [ablation.seeds for ablation in launched] == [2, 3] and launch_button(at).disabled


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
    assert effects["95 % interval"].tolist() == ["too few seeds for an interval: n=2, run ≥3 (5 for a useful width)"] * 2
    assert effects["effect"].str.fullmatch(r"[+-]\d+\.\d\d %").all()
    cells = frames["Random flips", "Batch normalisation"]
    assert len(cells) == 4 and cells["runs"].tolist() == [2, 2, 2, 2] and cells["std"].str.endswith(" %").all()
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


def test_a_link_names_the_base_a_run_or_a_preset_and_the_ablation_shown(app):
    import os

    from cheap_runs import finished_runs

    run_id, = finished_runs(os.environ["MLFLOW_TRACKING_URI"], ["the base"])
    app.query_params.update({"base": f"run:{run_id}", "factors": "flip", "shown": "0123456789ab"})
    at = ablation_page(app)
    assert at.selectbox(key="ablation.base").value.startswith("Run: the base")
    assert at.session_state["ablation.shown"] == "0123456789ab"
    assert dict(at.query_params) == {"base": f"run:{run_id}", "factors": "flip", "levels.flip": "none,horizontal"}
    at.selectbox(key="ablation.base").set_value("Preset: seed002_baseline").run()
    assert at.query_params["base"] == "preset:seed002_baseline"

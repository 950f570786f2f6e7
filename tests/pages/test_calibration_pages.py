"""Calibration through Streamlit's AppTest: the open run's Calibration tab on the Runs page, Compare's
Calibration tab, and Classify's calibrated probabilities. Runs logged as training logs them (synthetic
probabilities, nothing trained); the old store of ac763b1 and a real digits run for the slow ones."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import softmax

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.explorer import calibration_view
from cnnkit.stats import calibration
from cnnkit.tracking import run_schema
import cnnkit.training.calibration_step as calibration_step
from files import encode
from test_classify_page import classify, digits_run  # noqa: F401  (fixtures)
from test_saved_by_ac763b1 import FINISHED, old_app, store  # noqa: F401  (fixtures)

CALIBRATED = "Probabilities calibrated with temperature T = "


def made_run(logger_of, name: str, validation: bool) -> str:
    """A FINISHED run whose over-confident test probabilities were calibrated as training does it; its id."""
    rng = np.random.default_rng(len(name))
    logits = rng.normal(0, 1.5, (600, 10))
    labels = (rng.random(600)[:, None] > softmax(logits, axis=1).cumsum(axis=1)).sum(axis=1)
    data = SimpleNamespace(x_val=np.zeros((300 if validation else 0, 8, 8, 1), np.uint8), y_val=labels[300:],
                           y_test=labels[:300])
    logger = logger_of(name)
    calibration_step.log_calibration(logger, data, softmax(2 * logits[:300], axis=1),
                                     lambda images: softmax(2 * logits[300:], axis=1), step=1)
    logger.finish("FINISHED")
    return logger.run_id


@pytest.fixture()
def runs(app):
    """Runs "fitted" (with a validation split), "no validation" and "old" (nothing calibrated); ids by name."""
    runs_store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    made = {name: made_run(lambda run_name: runs_store.start_run(TrainConfig(dataset="digits"), run_name=run_name), name,
                           validation) for name, validation in (("fitted", True), ("no validation", False))}
    old = runs_store.start_run(TrainConfig(dataset="digits"), run_name="old")
    old.finish("FINISHED")
    return {**made, "old": old.run_id}


def logged(run_id: str) -> calibration_step.Calibration:
    runs_store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    return calibration_step.Calibration.from_json(runs_store.load_json_artifact(run_id, run_schema.CALIBRATION))


def open_run(app, run_id):
    at = app.switch_page("app_pages/runs.py")
    at.session_state["open_run"] = run_id
    return at.run()


def calibration_tab(at):
    """The open run's Calibration tab (the Report card tab draws a reliability diagram too)."""
    assert not at.exception
    return next(tab for tab in at.tabs if tab.label == "Calibration")


def figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def panel_titles(at) -> list[str]:
    """The reliability diagrams' panel titles."""
    return [note["text"] for figure in figures(at) if figure["layout"]["title"]["text"].startswith("Reliability")
            for note in figure["layout"]["annotations"]]


def texts(at) -> list[str]:
    return [element.value for element in [*at.caption, *at.markdown]]


def test_the_open_run_shows_its_temperature_its_numbers_and_its_diagrams_before_and_after(app, runs):
    at = calibration_tab(open_run(app, runs["fitted"]))
    found = logged(runs["fitted"])
    assert found.temperature == pytest.approx(2.0, rel=0.25)  # the synthetic run was twice too sharp
    assert any(text.startswith(f"Temperature **T = {found.temperature:.2f}** fitted on the validation split")
               and f"{found.before.ece:.2%} → {found.after.ece:.2%}" in text for text in texts(at))
    table = next(frame.value for frame in at.dataframe if "ECE" in frame.value.columns)
    assert table[""].tolist() == ["before scaling", "after scaling"]
    assert table["ECE"].tolist() == [found.before.ece, found.after.ece]
    assert panel_titles(at) == [f"before scaling · ECE {found.before.ece:.2%}",
                                f"after scaling (T = {found.temperature:.2f}) · ECE {found.after.ece:.2%}"]


def test_an_open_run_without_a_validation_split_says_its_temperature_was_not_fitted(app, runs):
    at = calibration_tab(open_run(app, runs["no validation"]))
    assert f"Temperature {calibration_view.NO_VALIDATION}." in texts(at)
    assert panel_titles(at) == [f"before scaling · ECE {logged(runs['no validation']).before.ece:.2%}"]


def test_an_open_old_run_without_a_final_snapshot_gets_one_line(app, runs):
    at = open_run(app, runs["old"])
    assert not at.exception and not panel_titles(at)
    assert any("trained before calibration was logged and kept no snapshot" in text for text in texts(at))


def test_compare_draws_the_runs_reliability_side_by_side_before_and_after_scaling(app, runs):
    app.session_state["compare_runs"] = [runs["fitted"], runs["no validation"], runs["old"]]
    at = app.switch_page("app_pages/compare.py")
    at.session_state["compare.tab"] = "Calibration"
    at.run()
    assert not at.exception
    fitted, no_validation = logged(runs["fitted"]), logged(runs["no validation"])
    table = next(frame.value for frame in at.dataframe if "ECE" in frame.value.columns)
    assert table["run"].tolist() == ["fitted", "no validation"]
    assert table["temperature"].tolist() == [f"T = {fitted.temperature:.2f}", calibration_view.NO_VALIDATION]
    assert panel_titles(at) == [f"fitted · ECE {fitted.before.ece:.2%}", f"no validation · ECE {no_validation.before.ece:.2%}"]
    assert any(text.startswith("old: No calibration") for text in texts(at))
    at.radio(key="compare.calibration.scaled").set_value("after temperature scaling").run()
    assert panel_titles(at) == [f"fitted · ECE {fitted.after.ece:.2%}"]
    assert "Runs without a temperature are left out of the diagrams after scaling." in texts(at)


@pytest.mark.slow
def test_an_old_run_is_calibrated_from_its_last_snapshot_on_request_without_a_temperature(old_app, store):  # noqa: F811
    at = open_run(old_app, FINISHED)
    assert not at.exception and not panel_titles(at)
    at.button(key=f"runs.calibrate.{FINISHED}").click().run()
    assert not at.exception
    old = tracking.RunStore(store)
    expected = calibration.report(old.snapshot_probabilities(FINISHED, 2), old.test_split_of_run(FINISHED).y_test)
    assert panel_titles(at) == [f"before scaling · ECE {expected.ece:.2%}"]
    assert any(text.startswith(f"Temperature {calibration_view.NOT_FITTED}") for text in texts(at))


@pytest.mark.slow
def test_classify_says_an_old_runs_probabilities_are_raw(old_app):  # noqa: F811
    at = old_app.switch_page("app_pages/classify.py").run()
    choices = at.selectbox(key="classify.run")
    choices.set_value(next(option for option in choices.options if FINISHED[:6] in option)).run()
    assert not at.exception
    assert not [text for text in texts(at) if text.startswith(CALIBRATED)]
    assert f"Raw probabilities (the network's softmax): temperature {calibration_view.NOT_FITTED}." in texts(at)
    assert not [toggle for toggle in at.toggle if toggle.key == "classify.calibrated"]


@pytest.mark.slow
def test_classify_shows_calibrated_probabilities_by_default_and_raw_ones_on_request(classify, digits_run):  # noqa: F811
    from PIL import Image

    uri, run_id = digits_run
    temperature = tracking.RunStore(uri).run(run_id).metrics[run_schema.TEMPERATURE]
    at = classify
    assert any(text.startswith(f"{CALIBRATED}{temperature:.2f} fitted on the validation split") for text in texts(at))
    image = encode(Image.new("L", (8, 8), 40))
    at.file_uploader(key="classify.one").set_value(("digit.png", image, "image/png")).run()
    assert not at.exception and at.toggle(key="classify.calibrated").value
    shown = next(frame.value for frame in at.dataframe if "probability" in frame.value.columns)
    model = tracking.RunStore(uri).load_model(run_id)
    from cnnkit.models import inspection, predict

    seen = predict.prepare(image, "digit.png", model.input_shape[1:], light_on_dark=True).model_input
    raw = inspection.predict_probabilities(model, seen[None])
    assert shown["probability"].tolist() == pytest.approx(
        np.sort(calibration.calibrated(raw, temperature)[0])[::-1][:5].tolist(), rel=1e-4)
    at.toggle(key="classify.calibrated").set_value(False).run()
    shown = next(frame.value for frame in at.dataframe if "probability" in frame.value.columns)
    assert shown["probability"].tolist() == pytest.approx(np.sort(raw[0])[::-1][:5].tolist(), rel=1e-4)
    assert not [text for text in texts(at) if text.startswith(CALIBRATED)]

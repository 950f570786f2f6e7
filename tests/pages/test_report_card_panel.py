"""The open run's report card on the Runs page, through Streamlit's AppTest: its sentences, reliability
diagram and heat map for a run logged with calibration and a sweep; what an old run lacks and how to get
it; the out-of-distribution hint's statistics computed on demand (slow: a digits run is trained)."""

import os

import pytest

from cnnkit import tracking
from cnnkit.tracking import run_schema
from cheap_runs import evaluated_digits_run, finished_run
from test_calibration_pages import open_run
from test_pages import chart_titles
from test_report_card import log_calibration_and_sweep, sweep_table


def texts(at) -> str:
    return " ".join(element.value for element in [*at.markdown, *at.caption])


def test_the_report_card_is_the_first_tab_with_its_sentences_diagram_and_heat_map(app):
    store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    run_id = evaluated_digits_run(store, "swept", wrong=range(9))
    log_calibration_and_sweep(store, run_id)

    at = open_run(app, run_id)

    assert not at.exception
    assert at.tabs[0].label == "Report card"
    shown = texts(at.tabs[0])
    assert "**Test accuracy** · Wide interval: " in shown
    assert "**Calibration** · Over-confident: ECE " in shown
    assert "**Robustness** · Fragile: loses " in shown and "worst: translate (20.0%)" in shown
    assert "**Out-of-distribution hint** · Not computed: " in shown
    titles = chart_titles(at.tabs[0])
    assert "Reliability diagram (test split)" in titles
    assert any(title.startswith("Accuracy under corruptions") for title in titles)


def test_an_old_runs_card_says_what_is_missing_and_how_to_get_it(app):
    run_id = finished_run(tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"]), test_accuracy=0.8)

    at = open_run(app, run_id)

    shown = texts(at.tabs[0])
    assert "**Calibration** · No calibration: the run was trained before cnnkit measured it" in shown
    assert "**Robustness** · No corruption sweep yet: start one with" in shown
    assert not chart_titles(at.tabs[0])


def test_the_hint_of_a_run_without_a_model_says_why_it_cannot_be_computed(app):
    store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    run_id = evaluated_digits_run(store, "no model", wrong=[])

    at = open_run(app, run_id)
    at.button(key=f"report.hint-{run_id}").click().run()

    assert not at.exception
    assert f"The hint's statistics can't be computed: Run {run_id} has no saved model." in texts(at.tabs[0])


@pytest.mark.slow
def test_the_hints_statistics_are_computed_on_demand_from_the_runs_model(app):
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    run_id = train(TrainConfig(dataset="digits", epochs=1, train_limit=100), run_name="tiny").run_id
    at = open_run(app, run_id)
    at.button(key=f"report.hint-{run_id}").click().run()

    assert not at.exception
    shown = texts(at.tabs[0])
    assert "Classify flags an image as unfamiliar when its top probability is under " in shown
    images = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"]).run(run_id).test_images
    assert f"of the {images:,} test images do" in shown  # all of them: fewer than predict.REFERENCE_IMAGES


def test_the_open_runs_sweep_and_calibration_are_read_once_and_a_new_sweep_again(app, monkeypatch):
    store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    run_id = evaluated_digits_run(store, "swept", wrong=range(9))
    log_calibration_and_sweep(store, run_id)
    reads = []
    for method in ("corruption_table", "load_json_artifact"):
        read = getattr(tracking.RunStore, method)
        monkeypatch.setattr(tracking.RunStore, method,
                            lambda self, *args, _read=read, _name=method: reads.append(_name) or _read(self, *args))

    at = open_run(app, run_id)
    first = list(reads)
    at.run()
    at.run()

    assert not at.exception
    assert first.count("corruption_table") == 1 and "load_json_artifact" in first  # the card and Robustness share one read
    assert reads == first  # the reruns read neither again
    table = sweep_table({"shear": 0.6})
    store.log_corruption_sweep(run_id, {run_schema.CORRUPTION_CLEAN_ACCURACY: 0.95,
                                        run_schema.CORRUPTION_MEAN_ACCURACY: table["accuracy"].mean(),
                                        run_schema.CORRUPTION_DROP: 0.95 - table["accuracy"].mean(),
                                        run_schema.CORRUPTION_IMAGES: 2000}, table)
    at.run()
    assert reads.count("corruption_table") == 2
    assert "worst: shear (60.0%), gaussian noise (90.0%)" in texts(at.tabs[0])  # the new sweep's, not the cached one

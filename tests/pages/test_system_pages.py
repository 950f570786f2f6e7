"""The System chart (the machine's use while a run trained) under the curves of an open run on the Runs
page and on Compare, through AppTest; runs made with logged metrics, nothing trained. A run without
system metrics (trained before cnnkit recorded them) gets one line, not an empty chart."""

import json
import os

import pytest

from cnnkit import tracking
from cnnkit.config import TrainConfig

NONE_NOTE = "No system metrics"


def made_run(store, name: str, system: bool) -> str:
    """A FINISHED run with two epochs and, if `system`, two samples of CPU and memory use; its id."""
    logger = store.start_run(TrainConfig(), run_name=name)
    for step in (0, 1):
        logger.log_metrics({"loss": 1.0 - step / 2, "val_accuracy": 0.5 + step / 4}, step=step + 1)
        if system:
            logger.log_metrics({"system/cpu_utilization_percentage": 40.0 + step,
                                "system/system_memory_usage_megabytes": 2500.0 + step}, step=step)
    logger.finish("FINISHED")
    return logger.run_id


@pytest.fixture()
def runs(app):
    """A run with system metrics and one from before cnnkit recorded them."""
    store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    return made_run(store, "sampled", system=True), made_run(store, "old", system=False)


def system_figures(at) -> list[dict]:
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return [figure for figure in figures if figure["layout"]["title"]["text"].startswith("System use")]


def notes(at) -> list[str]:
    return [caption.value for caption in at.caption if caption.value.startswith(NONE_NOTE)]


def open_on_runs_page(app, run_id):
    at = app.switch_page("app_pages/runs.py")
    at.session_state["open_run"] = run_id
    return at.run()


def test_an_open_run_shows_its_system_chart_under_its_curves(app, runs):
    sampled, _ = runs
    at = open_on_runs_page(app, sampled)
    assert not at.exception
    [figure] = system_figures(at)
    assert {trace["name"] for trace in figure["data"]} == {"sampled"}
    assert not notes(at)


def test_an_open_run_without_system_metrics_gets_one_line_instead(app, runs):
    _, old = runs
    at = open_on_runs_page(app, old)
    assert not at.exception and not system_figures(at)
    assert notes(at) == ["No system metrics (CPU, memory, GPU use): trained before cnnkit recorded the machine's use, "
                         "or with `CNNKIT_SYSTEM_METRICS_SECONDS=0`."]


def test_compare_shows_the_runs_system_use_beside_their_curves_and_names_a_run_without(app, runs):
    sampled, old = runs
    at = app.switch_page("app_pages/compare.py").run()
    at.multiselect(key="compare.runs").set_value([sampled, old]).run()
    assert not at.exception
    [figure] = system_figures(at)
    assert {trace["name"] for trace in figure["data"]} == {"sampled"}
    assert [note.split(":")[0] for note in notes(at)] == ["No system metrics for old"]

"""Curves against wall time on the Runs page (an open run) and on Compare, through AppTest; runs made
with logged metrics, nothing trained."""

import base64
import json
import os

import numpy as np

import pytest

from cnnkit import tracking
from cnnkit.config import TrainConfig


def logged_run(store, name: str, rate: float, epochs: dict[str, tuple[float, float]]) -> str:
    """A FINISHED run on digits with two epochs of `epochs` (metric -> per-epoch values); its id."""
    logger = store.start_run(TrainConfig(learning_rate=rate), run_name=name)
    for index in (0, 1):
        logger.log_metrics({key: values[index] for key, values in epochs.items()}, step=index + 1)
    logger.log_metrics({"test_accuracy": 0.8}, step=2)
    logger.finish("FINISHED")
    return logger.run_id


@pytest.fixture()
def timed_runs(app):
    """One run that logged its clock (elapsed_s), one from before it did (epoch_seconds only); newest first."""
    store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    old = logged_run(store, "old", 0.02, {"loss": (1.0, 0.5), "val_accuracy": (0.6, 0.8), "epoch_seconds": (20.0, 40.0)})
    timed = logged_run(store, "timed", 0.01, {"loss": (0.9, 0.4), "val_accuracy": (0.5, 0.9),
                                              "elapsed_s": (30.0, 150.0)})
    return timed, old


def figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def xs(trace: dict) -> list[float]:
    """A trace's x values, which Plotly may send as a typed array in base64."""
    x = trace["x"]
    return np.frombuffer(base64.b64decode(x["bdata"]), x["dtype"]).tolist() if isinstance(x, dict) else list(x)


def test_an_open_runs_learning_curves_go_over_to_wall_time(app, timed_runs):
    timed, _ = timed_runs
    at = app.switch_page("app_pages/runs.py")
    at.session_state["open_run"] = timed
    at.run()
    curves = next(figure for figure in figures(at) if figure["layout"]["title"]["text"].startswith("Learning curves"))
    assert curves["layout"]["xaxis"]["title"]["text"] == "Epoch"
    at.radio(key="runs.x_axis").set_value("wall time").run()
    curves = next(figure for figure in figures(at) if figure["layout"]["title"]["text"].startswith("Learning curves"))
    assert curves["layout"]["xaxis"]["title"]["text"] == "Wall time of training (min)"
    assert xs(curves["data"][0]) == [0.5, 2.5] and not at.exception


def test_compare_draws_each_run_against_its_own_clock_an_old_one_by_its_epoch_seconds(app, timed_runs):
    timed, old = timed_runs
    at = app.switch_page("app_pages/compare.py").run()
    at.multiselect(key="compare.runs").set_value([timed, old]).run()
    at.radio(key="compare.x_axis").set_value("wall time").run()
    assert not at.exception
    [curves] = figures(at)
    assert curves["layout"]["xaxis"]["title"]["text"] == "Wall time of training (min)"
    assert sorted(xs(trace) for trace in curves["data"]) == [[20 / 60, 1.0], [0.5, 2.5]]  # old: 20, 20 + 40 s

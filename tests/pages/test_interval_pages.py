"""Intervals and seed noise on the pages, through Streamlit's AppTest: the Runs table's and open run's test
accuracy interval, Compare's error bars and seed groups, Inspect's per-class intervals, the Ablation page's
seed noise. Runs are logged as `train` logs them, without training (tests/cheap_runs.py); every bound shown
is checked against SciPy's Wilson interval of the run's (or class's) k of n."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from scipy.stats import binomtest

from alerts import alert_text
from cheap_runs import ablation_run, evaluated_digits_run, finished_run
from cnnkit import tracking
from cnnkit.config import TrainConfig, load_data
from test_time_travel_pages import numbers

pytestmark = pytest.mark.slow
WRONG = {0: range(10), 1: range(14), 2: range(12)}  # per seed: the test images a run gets wrong


def wilson(k: int, n: int) -> tuple[float, float]:
    found = binomtest(k, n).proportion_ci(method="wilson")
    return found.low, found.high


def digits_labels(seed: int = 0) -> np.ndarray:
    return load_data(TrainConfig(dataset="digits", seed=seed)).y_test


@pytest.fixture()
def store(app):
    st.cache_data.clear()
    return tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])


def chart(at, title: str) -> dict:
    return next(spec for spec in (json.loads(element.proto.spec) for element in at.get("plotly_chart"))
                if spec["layout"]["title"]["text"].startswith(title))


def test_the_runs_table_and_the_open_run_show_the_test_accuracy_with_its_interval(app, store):
    logged = evaluated_digits_run(store, "logged", WRONG[0])
    old = finished_run(store, name="old", test_accuracy=0.9)  # no dataset inputs: no interval, never a guess
    at = app.switch_page("app_pages/runs.py").run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("name")
    n = len(digits_labels())
    low, high = wilson(n - 10, n)
    assert table.loc["logged", "test_interval"] == f"{100 * low:.1f}–{100 * high:.1f} %"
    assert pd.isna(table.loc["old", "test_interval"])
    assert list(table.columns[:2]) == ["test_accuracy", "test_interval"] and table["test_accuracy"].dtype == float
    at.session_state["open_run"] = logged
    at.run()
    assert f"Test accuracy {100 * (n - 10) / n:.2f} % (95 % interval {100 * low:.2f} to {100 * high:.2f}) on {n} images." \
        in [caption.value for caption in at.caption]
    at.session_state["open_run"] = old
    at.run()
    assert any(caption.value.startswith("No 95 % interval for this run's test accuracy") for caption in at.caption)


def test_compare_draws_error_bars_from_each_runs_n_and_groups_runs_that_differ_only_by_seed(app, store):
    runs = [evaluated_digits_run(store, f"lr 0.001 seed {seed}", WRONG[seed], seed=seed) for seed in range(3)]
    runs += [evaluated_digits_run(store, f"lr 0.01 seed {seed}", range(30 + seed), seed=seed, learning_rate=0.01)
             for seed in range(3)]
    at = app.switch_page("app_pages/compare.py")
    at.session_state["compare_runs"] = runs
    at.session_state["compare.tab"] = "Results"
    at.run()
    assert not at.exception
    bars = next(trace for trace in chart(at, "Accuracy of each run")["data"] if trace["name"].startswith("test accuracy"))
    y, above, below = numbers(bars["y"]), numbers(bars["error_y"]["array"]), numbers(bars["error_y"]["arrayminus"])
    for i, seed in enumerate(range(3)):
        n = len(digits_labels(seed))
        low, high = wilson(n - len(WRONG[seed]), n)
        assert (y[i] - below[i], y[i] + above[i]) == (pytest.approx(100 * low), pytest.approx(100 * high))
    groups = next(frame.value for frame in at.dataframe if "seed group" in frame.value.columns).set_index("seed group")
    assert groups["runs"].tolist() == [3, 3] and groups.index[0] == "lr 0.001 seed 0 (3 seeds)"
    assert groups["range"].str.fullmatch(r"\d+\.\d\d % to \d+\.\d\d %").all()
    assert groups["seeds needed"].iloc[0] == "–" and groups["seeds needed"].iloc[1] != "–"
    assert any("Runs whose settings differ only by their seed" in caption.value for caption in at.caption)


def test_compare_has_no_seed_groups_section_when_every_run_stands_alone(app, store):
    runs = [evaluated_digits_run(store, "a", WRONG[0]), evaluated_digits_run(store, "b", WRONG[1], learning_rate=0.01)]
    at = app.switch_page("app_pages/compare.py")
    at.session_state["compare_runs"] = runs
    at.session_state["compare.tab"] = "Results"
    at.run()
    assert not at.exception and not any("seed group" in frame.value.columns for frame in at.dataframe)
    assert not any(element.value == "##### Seed groups" for element in at.markdown)


def test_inspect_shows_each_classs_accuracy_with_its_interval_over_its_own_test_images(app, store):
    run = evaluated_digits_run(store, "run", range(25))
    at = app.switch_page("app_pages/inspect.py")
    at.session_state["inspect_run"] = run
    at.run()
    assert not at.exception
    dots = chart(at, "Accuracy of each class")["data"][0]
    y, above, below = numbers(dots["y"]), numbers(dots["error_y"]["array"]), numbers(dots["error_y"]["arrayminus"])
    y_test = digits_labels()
    wrong = np.isin(np.arange(len(y_test)), np.arange(25))
    for digit in range(10):
        k, n = int(np.sum((y_test == digit) & ~wrong)), int(np.sum(y_test == digit))
        low, high = wilson(k, n)
        assert y[digit] == pytest.approx(100 * k / n)
        assert (y[digit] - below[digit], y[digit] + above[digit]) == (pytest.approx(100 * low), pytest.approx(100 * high))
    table = next(frame.value for frame in at.dataframe if "images" in frame.value.columns)
    assert table["images"].tolist() == np.bincount(y_test, minlength=10).tolist()


def seeded_ablation(store, ablation_id: str, flip_effect: float) -> None:
    """3 seeds × 2 cells (flip none or horizontal); seed offsets 0, +0.02, -0.02 in both cells."""
    for seed, offset in enumerate((0.0, 0.02, -0.02)):
        for flip, effect in (("none", 0.0), ("horizontal", flip_effect)):
            ablation_run(store, ablation_id, {"flip": flip}, seed, 0.9 + offset + effect, size=6)


def ablation_analysed(app, ablation_id: str):
    at = app.switch_page("app_pages/ablation.py")
    at.session_state["ablation.shown"] = ablation_id
    return at.run()


def test_an_ablation_with_3_seeds_shows_each_cells_spread_and_the_seeds_an_effect_needs(app, store):
    seeded_ablation(store, "noisy", flip_effect=0.01)  # seed noise: std 0.02 in each cell
    at = ablation_analysed(app, "noisy")
    assert not at.exception
    frames = {tuple(frame.value.columns[:2]): frame.value for frame in at.dataframe}
    cells = frames["Random flips", "runs"]
    assert cells["std"].tolist() == ["2.00 %", "2.00 %"] and cells["range"].tolist() == [
        "88.00 % to 92.00 %", "89.00 % to 93.00 %"]
    effects = frames["factor", "level"]
    assert effects[["seeds", "seed noise (std)", "seeds needed"]].values.tolist() == [[3, "2.00 %", "64"]]  # d = 0.5
    sentence = "Random flips horizontal vs none (+1.00 %) is smaller than its seed noise (std 2.00 %): 64 seeds per " \
               "cell would tell it from that noise at 80 % power."
    assert [alert_text(info) for info in at.info if "seed noise" in info.value] == [sentence]
    assert "Grey diamond: smaller than its seed noise" in chart(at, "Effect on test accuracy")["layout"]["title"]["text"]


def test_an_effect_larger_than_its_seed_noise_is_not_called_smaller(app, store):
    seeded_ablation(store, "clear", flip_effect=0.05)
    at = ablation_analysed(app, "clear")
    assert not at.exception and not any("seed noise" in info.value for info in at.info)
    effects = next(frame.value for frame in at.dataframe if "seeds needed" in frame.value.columns)
    assert effects["seeds needed"].tolist() == ["4"]  # d = 2.5: power 0.64 with 3 seeds, 0.84 with 4
    assert "seed noise" not in chart(at, "Effect on test accuracy")["layout"]["title"]["text"]

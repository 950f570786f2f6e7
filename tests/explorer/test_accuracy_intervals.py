"""Accuracies with their 95 % intervals (cnnkit.explorer.accuracy_intervals): the bounds shown are SciPy's
Wilson interval for the run's k of n, n being the run's test images or a class's."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from cnnkit.explorer import accuracy_intervals
from cnnkit.tracking import run_schema


def scipy_wilson(k: int, n: int) -> tuple[float, float]:
    found = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return found.low, found.high


@pytest.mark.parametrize(("k", "n"), [(9_812, 10_000), (350, 360), (360, 360), (0, 5)])
def test_the_bounds_of_a_logged_accuracy_are_scipys_wilson_interval_of_its_k_of_n(k, n):
    assert accuracy_intervals.bounds(k / n, n) == pytest.approx(scipy_wilson(k, n), abs=1e-12)


def test_no_count_of_test_images_or_no_accuracy_gives_no_interval_never_a_guess():
    for accuracy, images in ((0.98, pd.NA), (0.98, None), (math.nan, 360), (0.98, 0)):
        assert all(math.isnan(bound) for bound in accuracy_intervals.bounds(accuracy, images))
    assert accuracy_intervals.span(math.nan, math.nan) is None


def runs_page() -> pd.DataFrame:
    """Three rows as `RunStore.runs_page` gives them: 9,812 of 10,000 right; 350 of 360; n unknown."""
    return pd.DataFrame({"run_id": ["a", "b", "c"], "name": ["big", "small", "old"],
                         run_schema.TEST_ACCURACY: [0.9812, 350 / 360, 0.97], "val_accuracy": [0.98, 0.96, 0.95],
                         "test_images": pd.array([10_000, 360, pd.NA], dtype="Int64")})


def test_the_runs_table_gets_the_interval_right_after_the_test_accuracy_from_each_runs_own_n():
    shown = accuracy_intervals.with_test_interval(runs_page())
    assert list(shown.columns) == ["run_id", "name", run_schema.TEST_ACCURACY, accuracy_intervals.TEST_INTERVAL,
                                   "val_accuracy"]
    big, small = scipy_wilson(9_812, 10_000), scipy_wilson(350, 360)
    assert shown[accuracy_intervals.TEST_INTERVAL].tolist() == [
        f"{100 * big[0]:.1f}–{100 * big[1]:.1f} %", f"{100 * small[0]:.1f}–{100 * small[1]:.1f} %", None]
    # by hand: Wilson's centre (p + z²/2n) / (1 + z²/n) = 98.101 %, half-width ≈ 1.96·√(p(1−p)/n) = 0.266 points
    assert shown[accuracy_intervals.TEST_INTERVAL][0] == "97.8–98.4 %"
    # the accuracy stays a number: the table still sorts by it
    assert pd.api.types.is_float_dtype(shown[run_schema.TEST_ACCURACY])
    assert shown.sort_values(run_schema.TEST_ACCURACY)["name"].tolist() == ["old", "small", "big"]


def test_an_open_run_says_its_accuracy_with_the_interval_in_words_or_nothing_without_n():
    assert accuracy_intervals.run_interval({run_schema.TEST_ACCURACY: 350 / 360}, 360) == (
        "Test accuracy 97.22 % (95 % interval 94.96 to 98.48) on 360 images.")
    low, high = scipy_wilson(350, 360)
    assert (f"{100 * low:.2f}", f"{100 * high:.2f}") == ("94.96", "98.48")
    assert accuracy_intervals.run_interval({run_schema.TEST_ACCURACY: 0.97}, None) is None
    assert accuracy_intervals.run_interval({}, 360) is None


def test_each_class_gets_its_accuracy_and_interval_from_its_own_count_of_test_images():
    confusion = np.array([[48, 2, 0], [5, 15, 0], [0, 0, 0]])  # class c has no test images
    classes = accuracy_intervals.class_accuracy(confusion, ["a", "b", "c"])
    assert list(classes.columns) == list(accuracy_intervals.CLASS_COLUMNS)
    assert classes[["class", "right", "images"]].values.tolist() == [["a", 48, 50], ["b", 15, 20], ["c", 0, 0]]
    assert classes["accuracy"].tolist()[:2] == [0.96, 0.75] and math.isnan(classes["accuracy"][2])
    for row, (k, n) in zip(classes.itertuples(), ((48, 50), (15, 20))):
        assert (row.low, row.high) == pytest.approx(scipy_wilson(k, n), abs=1e-12)
    assert math.isnan(classes["low"][2]) and math.isnan(classes["high"][2])

"""Accuracies with their 95 % Wilson interval (`stats.intervals`) wherever the pages compare them: the
Runs table and its open run, Compare's results chart, Inspect's per-class accuracy.

An interval needs the count of test images, n, behind an accuracy: a run's test split size (its test
dataset input, `RunStore` columns `test_images`), a class's count of test images (its confusion-matrix
row). A logged accuracy is right/n, so the images right are round(accuracy · n). Runs logged before
they recorded n get no interval, never a guessed one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cnnkit.stats import intervals
from cnnkit.tracking import run_schema

TEST_INTERVAL = "test_interval"  # the Runs table's column: the test accuracy's 95 % interval as text
CLASS_COLUMNS = ("class", "right", "images", "accuracy", "low", "high")
HELP = ("The test accuracy's 95 % Wilson interval over the run's test images: runs whose intervals overlap may "
        "differ by chance alone (Compare tests that). None: logged before runs recorded their test images.")
NO_INTERVAL = "No 95 % interval for this run's test accuracy: it has no test accuracy, or was logged before runs " \
              "recorded how many test images they were evaluated on."


def _known(value) -> bool:
    return value is not None and value is not pd.NA and not (isinstance(value, float) and math.isnan(value))


def bounds(accuracy, images) -> tuple[float, float]:
    """The Wilson 95 % interval (low, high) of `accuracy` measured on `images` test images; (nan, nan)
    when either is unknown or there are no images."""
    if not (_known(accuracy) and _known(images)) or int(images) <= 0:
        return math.nan, math.nan
    images = int(images)
    return intervals.wilson(min(images, max(0, round(float(accuracy) * images))), images)


def span(low: float, high: float) -> str | None:
    """An interval as text, "98.1–98.6 %"; None for no interval."""
    if math.isnan(low):
        return None
    return f"{100 * low:.1f}–{100 * high:.1f} %"


def with_test_interval(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table (columns as `RunStore.runs_frame`) with its `test_images` column replaced by
    `TEST_INTERVAL`, the test accuracy's interval as text (None without one), right after the test
    accuracy; the accuracy itself stays a number, so the table still sorts by it."""
    texts = [span(*bounds(accuracy, images)) for accuracy, images in
             zip(runs[run_schema.TEST_ACCURACY], runs["test_images"])]
    shown = runs.drop(columns=["test_images"])
    shown.insert(shown.columns.get_loc(run_schema.TEST_ACCURACY) + 1, TEST_INTERVAL, pd.Series(texts, dtype=object,
                                                                                                index=runs.index))
    return shown


def run_interval(metrics: dict[str, float], images: int | None) -> str | None:
    """An open run's test accuracy with its interval in words ("Test accuracy 97.25 % (95 % interval
    95.04 to 98.52) on 360 images"); None without a test accuracy or a count of test images."""
    accuracy = metrics.get(run_schema.TEST_ACCURACY)
    if not (_known(accuracy) and _known(images)) or images <= 0:
        return None
    return f"Test accuracy {intervals.describe(round(accuracy * images), images)}."


def class_accuracy(confusion, class_names) -> pd.DataFrame:
    """Each class's accuracy (its recall: the share of its test images predicted as it) with its
    Wilson interval, n the class's count of test images: columns `CLASS_COLUMNS`, in class order; a
    class without test images has nan accuracy and bounds."""
    confusion = np.asarray(confusion, dtype=np.int64)
    right, images = np.diag(confusion), confusion.sum(axis=1)
    found = [intervals.wilson(int(k), int(n)) if n else (math.nan, math.nan) for k, n in zip(right, images)]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(images > 0, right / np.maximum(images, 1), np.nan)
    return pd.DataFrame({"class": [str(name) for name in class_names], "right": right, "images": images,
                         "accuracy": accuracy, "low": [low for low, _ in found], "high": [high for _, high in found]},
                        columns=list(CLASS_COLUMNS))

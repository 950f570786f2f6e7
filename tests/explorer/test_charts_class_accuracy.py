"""cnnkit.explorer.charts.class_accuracy: a dot per class with its 95 % Wilson interval."""

import numpy as np
import pytest
from scipy.stats import binomtest

from chart_figures import has_shared_look, note_text
from cnnkit.explorer import accuracy_intervals, charts


def test_each_class_is_a_dot_with_scipys_wilson_interval_over_its_own_test_images():
    confusion = np.array([[48, 2, 0], [5, 15, 0], [0, 0, 0]])  # class c has no test images: no dot
    fig = charts.class_accuracy(accuracy_intervals.class_accuracy(confusion, ["a", "b", "c"]))
    dots = fig.data[0]
    assert list(dots.x) == ["a", "b"] and list(dots.y) == pytest.approx([96.0, 75.0])
    for i, (k, n) in enumerate(((48, 50), (15, 20))):
        wilson = binomtest(k, n).proportion_ci(method="wilson")
        assert dots.y[i] - dots.error_y.arrayminus[i] == pytest.approx(100 * wilson.low)
        assert dots.y[i] + dots.error_y.array[i] == pytest.approx(100 * wilson.high)
    assert list(dots.customdata[1][2:]) == [15, 20] and "test images" in dots.hovertemplate
    assert fig.layout.yaxis.range[0] <= 100 * binomtest(15, 20).proportion_ci(method="wilson").low
    assert has_shared_look(fig)


def test_a_run_without_test_images_says_so():
    fig = charts.class_accuracy(accuracy_intervals.class_accuracy(np.zeros((2, 2), int), ["a", "b"]))
    assert note_text(fig) == ["no test images to score the classes on"]

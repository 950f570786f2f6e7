"""cnnkit.explorer.charts.reliability: reliability diagrams, one panel per run or per scaling."""

import numpy as np
import pytest

from chart_figures import has_shared_look, note_text
from cnnkit.explorer import charts
from cnnkit.stats import calibration

# Five images, two classes: two at confidence 0.9 (one right), three at 0.7 (two right): ECE 18 %.
HAND = calibration.report(np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.3, 0.7], [0.7, 0.3]]),
                          np.array([0, 1, 1, 1, 1]))


def test_a_panel_draws_each_filled_bins_accuracy_the_diagonal_and_the_counts_with_ece_in_its_title():
    fig = charts.reliability_diagram({"run <a>": HAND})
    accuracy, diagonal, counts = fig.data
    assert list(accuracy.x) == pytest.approx([10.5 / 15, 13.5 / 15])  # bin centres of (10/15, 11/15], (13/15, 14/15]
    assert list(accuracy.y) == pytest.approx([2 / 3, 1 / 2])
    assert accuracy.width == pytest.approx(1 / 15)
    assert (list(diagonal.x), list(diagonal.y)) == ([0, 1], [0, 1])
    assert list(counts.y) == [3, 2] and counts.yaxis != accuracy.yaxis  # the strip under the bars
    assert fig.layout[f"yaxis{counts.yaxis.removeprefix('y')}"].type == "log"
    assert note_text(fig) == ["run &lt;a&gt; · ECE 18.00%"]  # a name shown as typed, not as markup
    assert accuracy.customdata[0][2] == 3  # the hover's image count
    assert has_shared_look(fig)


def test_several_panels_side_by_side_wrap_after_three_with_their_titles_in_order():
    fig = charts.reliability_diagram({name: HAND for name in "abcd"})
    assert note_text(fig) == [f"{name} · ECE 18.00%" for name in "abcd"]
    bars = [trace for trace in fig.data if trace.name == "accuracy"]
    assert [trace.xaxis for trace in bars] == ["x", "x2", "x3", "x7"]  # row 2 of panels starts after 3 bars, 3 strips
    assert [trace.showlegend for trace in bars] == [True, False, False, False]


def test_no_panels_is_a_note_not_an_error():
    assert note_text(charts.reliability_diagram({})) == ["no calibration to show"]

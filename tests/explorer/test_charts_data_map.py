"""charts.data_map_scatter: one WebGL trace whose points are the examples given, coloured by
correctness, the regions named, and small enough at 60,000 points."""

import numpy as np

from cnnkit.explorer import charts
from cnnkit.stats import cartography


def test_each_example_is_a_point_at_its_variability_and_confidence_coloured_by_correctness():
    fig = charts.data_map_scatter([0.9, 0.1], [0.05, 0.3], [1.0, 0.5])
    (trace,) = fig.data
    assert trace.type == "scattergl"
    assert np.allclose(trace.x, [0.05, 0.3]) and np.allclose(trace.y, [0.9, 0.1])
    assert np.allclose(trace.marker.color, [1.0, 0.5]) and (trace.marker.cmin, trace.marker.cmax) == (0, 1)
    names = {annotation.text for annotation in fig.layout.annotations}
    assert names == {f"<b>{region}</b>" for region in cartography.REGIONS}
    assert fig.layout.dragmode == "select"


def test_60000_points_make_a_figure_of_under_two_megabytes_of_json():
    rng = np.random.default_rng(0)
    fig = charts.data_map_scatter(rng.random(60_000), rng.random(60_000) / 2, rng.integers(0, 4, 60_000) / 3)
    assert len(fig.to_json()) < 2_000_000
    assert fig.data[0].customdata is None and fig.data[0].text is None  # nothing else per point


def test_no_examples_give_a_note():
    fig = charts.data_map_scatter([], [], [])
    assert fig.data == () and "no examples" in fig.layout.annotations[0].text


def test_marked_examples_are_drawn_larger_and_ringed_in_the_same_trace():
    """The same single trace: a selection's point indices still name the examples given."""
    fig = charts.data_map_scatter([0.9, 0.1, 0.5], [0.05, 0.3, 0.1], [1.0, 0.5, 0.0], marked=[False, True, False])
    (trace,) = fig.data
    assert trace.marker.size.tolist() == [4, 9, 4] and trace.marker.line.width.tolist() == [0, 1.5, 0]
    assert charts.data_map_scatter([0.9], [0.05], [1.0]).data[0].marker.size == 4

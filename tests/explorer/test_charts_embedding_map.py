"""cnnkit.explorer.charts.embedding_map: a WebGL scatter, a trace per colour, positions as customdata."""

import pandas as pd

from chart_figures import has_shared_look
from cnnkit.explorer import charts


def test_one_webgl_trace_per_value_with_positions_to_click():
    points = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 2.0], "position": [7, 8, 9],
                           "correct": ["right", "wrong", "right"]})
    fig = charts.embedding_scatter(points, "correct")
    assert [trace.type for trace in fig.data] == ["scattergl", "scattergl"]
    assert [trace.name for trace in fig.data] == ["right", "wrong"]
    assert list(fig.data[0].customdata) == [7, 9] and list(fig.data[1].customdata) == [8]
    assert fig.data[1].marker.color == charts.WRONG and has_shared_look(fig)


def test_no_points_says_so():
    fig = charts.embedding_scatter(pd.DataFrame(columns=["x", "y", "position", "label"]), "label")
    assert "no images to place" in fig.layout.annotations[0].text

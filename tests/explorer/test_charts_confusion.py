"""cnnkit.explorer.charts.confusion: confusion_matrix and confusion_difference."""

import re

import numpy as np
import plotly.graph_objects as go
import pytest

from chart_figures import note_text
from cnnkit.explorer import charts


# ---- confusion_matrix / confusion_difference ---------------------------------------------


def test_confusion_matrix_puts_true_labels_top_to_bottom_and_predictions_across():
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 0]])
    fig = charts.confusion_matrix(matrix, ["cat", "dog", "eel"])
    heatmap = fig.data[0]
    assert isinstance(heatmap, go.Heatmap) and np.array_equal(heatmap.z, matrix)
    assert list(heatmap.x) == list(heatmap.y) == ["cat", "dog", "eel"]
    assert tuple(fig.layout.yaxis.range) == (2.5, -0.5)  # first class on top
    assert fig.layout.xaxis.title.text == "Predicted label" and fig.layout.yaxis.title.text == "True label"
    assert heatmap.texttemplate == "%{text}"
    assert np.array_equal(heatmap.text, [["5", "1", ""], ["2", "7", "1"], ["", "", ""]])  # counts; no "0" clutter
    assert all(s in heatmap.hovertemplate for s in ("true: %{y}", "predicted: %{x}", "%{z"))
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.title.text == "Confusion matrix"


def test_a_normalised_confusion_matrix_shows_the_share_of_each_true_class():
    matrix = np.array([[3, 1], [0, 0]])
    fig = charts.confusion_matrix(matrix, ["0", "1"], normalize=True, title="run 1")
    assert np.array_equal(fig.data[0].z, [[0.75, 0.25], [0, 0]])  # a class with no images stays 0
    assert np.array_equal(fig.data[0].text, [["0.75", "0.25"], ["", ""]]) and (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
    rare = charts.confusion_matrix(np.array([[999, 1], [0, 1]]), ["0", "1"], normalize=True)
    assert rare.data[0].text[0][1] == "<.01"  # one image in a thousand is not "0.00"
    assert fig.layout.xaxis.type == "category" and fig.layout.title.text == "run 1"


def test_confusion_matrix_rejects_a_wrong_shape_and_drops_cell_text_for_many_classes():
    with pytest.raises(ValueError):
        charts.confusion_matrix(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError):
        charts.confusion_matrix(np.zeros((3, 3)), ["a", "b"])
    assert charts.confusion_matrix(np.eye(21), [str(i) for i in range(21)]).data[0].texttemplate is None


def test_a_cifar100_confusion_matrix_is_drawn_whole():
    matrix = np.random.default_rng(0).integers(0, 50, (100, 100))
    names = [f"class {i}" for i in range(100)]
    fig = charts.confusion_matrix(matrix, names, normalize=True)
    assert np.asarray(fig.data[0].z).shape == (100, 100)


def test_confusion_difference_writes_b_minus_a_in_images_and_leaves_cells_where_the_runs_agree_blank():
    a = np.array([[8, 2, 0], [5, 5, 0], [0, 1, 9]])
    b = np.array([[9, 1, 0], [1, 9, 0], [0, 1, 9]])
    fig = charts.confusion_difference(a, b, ["cat", "dog", "owl"], names=("old", "new"))
    assert np.array_equal(fig.data[0].text, [["+1", "−1", ""], ["−4", "+4", ""], ["", "", ""]])  # no "+0.00"
    assert ["A: old", "B: new"] == title_lines(fig)[1:3]
    assert "B − A: %{hovertext}" in fig.data[0].hovertemplate
    assert fig.data[0].hovertext[1][0] == "−4 images<br>B (new) is better here"


def test_confusion_difference_colours_every_cell_where_b_does_better_the_same_way():
    a = np.array([[8, 2], [5, 5]])
    b = np.array([[9, 1], [1, 9]])  # B: more right on the diagonal, fewer mistakes off it: better everywhere
    heatmap = charts.confusion_difference(a, b, ["cat", "dog"]).data[0]
    assert np.array_equal(heatmap.z, [[1, 1], [4, 4]])  # positive = B better, on and off the diagonal
    worse = charts.confusion_difference(b, a, ["cat", "dog"]).data[0]
    assert np.array_equal(worse.z, [[-1, -1], [-4, -4]])
    assert (heatmap.zmid, heatmap.zmin, heatmap.zmax) == (0, -4, 4)  # symmetric, so white means "the same"
    assert list(heatmap.colorbar.ticktext) == ["A better", "same", "B better"]
    assert list(heatmap.colorbar.tickvals) == [-4, 0, 4]
    assert heatmap.colorscale[-1][1] == "rgb(5,48,97)"  # RdBu's dark blue at the "B better" end
    assert "blue: B is better here" in charts.confusion_difference(a, b, ["cat", "dog"]).layout.title.text
    assert charts.confusion_difference(a, a + np.eye(2, dtype=int), ["cat", "dog"]).data[0].zmax == 1
    same = charts.confusion_difference(a, a, ["cat", "dog"])
    assert same.data == () and note_text(same) == ["A and B put every test image in the same cell: no difference"]


def test_confusion_difference_needs_matrices_of_one_shape():
    with pytest.raises(ValueError, match="shape"):
        charts.confusion_difference(np.zeros((2, 2)), np.zeros((3, 3)), ["a", "b"])


def test_a_clickable_confusion_matrix_has_one_invisible_point_per_cell_carrying_its_classes_and_value():
    matrix = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 9]])
    fig = charts.confusion_matrix(matrix, ["cat", "dog", "owl"], clickable=True)
    heatmap, cells = fig.data
    assert heatmap.hoverinfo == "skip" and cells.marker.opacity == 0
    assert list(zip(cells.x, cells.y))[:4] == [("cat", "cat"), ("dog", "cat"), ("owl", "cat"), ("cat", "dog")]
    assert list(cells.customdata) == matrix.ravel().tolist()  # row by row: true class, then predicted
    assert "%{customdata:,d}" in cells.hovertemplate
    assert len(charts.confusion_matrix(matrix, ["cat", "dog", "owl"]).data) == 1


def test_a_clickable_difference_matrix_carries_each_cells_classes_and_verdict_on_its_points():
    a, b = np.array([[8, 2], [5, 5]]), np.array([[9, 1], [1, 9]])
    fig = charts.confusion_difference(a, b, ["cat", "dog"], names=("old", "new"), clickable=True)
    heatmap, cells = fig.data
    assert list(zip(cells.y, cells.x)) == [("cat", "cat"), ("cat", "dog"), ("dog", "cat"), ("dog", "dog")]
    assert list(cells.hovertext) == np.asarray(heatmap.hovertext).ravel().tolist()
    assert "%{hovertext}" in cells.hovertemplate and heatmap.hoverinfo == "skip"


def title_lines(fig) -> list[str]:
    return [re.sub(r"<[^>]+>", "", line) for line in fig.layout.title.text.split("<br>")]


def test_the_difference_title_comes_in_short_lines_that_its_top_margin_holds_even_for_long_run_names():
    a, b = np.array([[8, 2], [5, 5]]), np.array([[9, 1], [1, 9]])
    long_name = "resnet20 on fashion_mnist with cutout and label smoothing, seed 3"
    fig = charts.confusion_difference(a, b, ["cat", "dog"], names=("short", long_name))
    lines = title_lines(fig)
    assert lines[0] == "B − A: test images per cell" and lines[1] == "A: short"
    assert "".join(lines[2:4]).replace(" ", "") == f"B: {long_name}".replace(" ", "")  # wrapped, nothing lost
    assert lines[-1] == "blue: B is better here, red: A is"
    assert all(len(line) <= 60 for line in lines)
    assert fig.layout.margin.t >= 24 * len(lines)  # about a line's height each


def test_long_class_names_slant_under_the_matrix_and_widen_its_margins():
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    digits = [str(d) for d in range(10)]
    clothes, numbers = (charts.confusion_matrix(np.eye(10, dtype=int), names, normalize=True)
                        for names in (fashion, digits))
    assert clothes.layout.xaxis.tickangle == -45 and numbers.layout.xaxis.tickangle == 0
    assert clothes.layout.margin.l >= 7 * len("T-shirt/top") > numbers.layout.margin.l - 40
    assert clothes.layout.margin.b > numbers.layout.margin.b
    assert clothes.layout.height - numbers.layout.height == clothes.layout.margin.b - numbers.layout.margin.b

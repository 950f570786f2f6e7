"""cnnkit.explorer.charts.data: class_distribution and samples_by_class."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from chart_figures import has_shared_look, note_text, pixels
from cnnkit.explorer import charts


# ---- class_distribution ------------------------------------------------------------------


def test_class_distribution_has_one_bar_trace_per_split_with_counts_and_shares():
    counts = pd.DataFrame({
        "split": ["test", "train", "train", "validation", "validation", "test"],
        "class": ["cat", "cat", "dog", "cat", "dog", "dog"],
        "count": [5, 30, 10, 4, 4, 15],
    })
    fig = charts.class_distribution(counts)
    assert [t.name for t in fig.data] == ["train", "validation", "test"]  # train first, whatever the row order
    assert all(isinstance(t, go.Bar) for t in fig.data)
    train = fig.data[0]
    assert list(train.x) == ["cat", "dog"] and list(train.y) == [30, 10]
    assert list(train.customdata) == pytest.approx([0.75, 0.25])  # share of the train split
    assert "%{customdata:.1%}" in train.hovertemplate and "%{y}" in train.hovertemplate
    assert fig.layout.barmode == "group"
    assert fig.layout.xaxis.title.text == "Class" and fig.layout.xaxis.type == "category"
    assert fig.layout.yaxis.title.text == "Number of images"
    assert has_shared_look(fig)


def test_class_distribution_of_one_class_and_of_nothing():
    one = charts.class_distribution(pd.DataFrame({"split": ["train"], "class": [0], "count": [7]}))
    assert list(one.data[0].x) == ["0"] and list(one.data[0].customdata) == [1.0]
    empty = charts.class_distribution(pd.DataFrame(columns=["split", "class", "count"]))
    assert empty.data == () and note_text(empty) == ["no images counted"]


# ---- samples_by_class --------------------------------------------------------------------


def class_coded_images(per_class=8, classes=3, size=4):
    """Images whose every pixel is 10 * (class + 1), so a tile tells which class it came from."""
    labels = np.repeat(np.arange(classes), per_class)
    images = np.broadcast_to((10 * (labels + 1)).astype(np.uint8)[:, None, None, None], (len(labels), size, size, 1))
    shuffle = np.random.default_rng(1).permutation(len(labels))
    return images[shuffle].copy(), labels[shuffle]


def tile(z, row, col, size=4, gap=2, band=3):
    top, left = band + row * (size + gap), col * (size + gap)
    return z[top : top + size, left : left + size]


def test_samples_by_class_puts_only_images_of_each_class_in_its_column():
    images, labels = class_coded_images()
    fig = charts.samples_by_class(images, labels, ["zero", "one", "two"], per_class=5)
    z = pixels(fig)
    assert z.shape == (3 + 5 * 4 + 4 * 2, 3 * 4 + 2 * 2, 3)
    for col in range(3):
        for row in range(5):
            assert (tile(z, row, col) == 10 * (col + 1)).all()
    assert [a.text for a in fig.layout.annotations] == ["zero", "one", "two"]
    assert fig.layout.title.text == "Random examples of each class"
    assert "gray value" in fig.data[0].hovertemplate  # gray stays gray


def test_samples_by_class_is_reproducible_by_seed_and_random_across_seeds():
    images = np.random.default_rng(0).integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(40) % 2
    z = lambda seed: pixels(charts.samples_by_class(images, labels, ["a", "b"], per_class=3, seed=seed))
    assert (z(0) == z(0)).all() and not (z(0) == z(1)).all()


def test_samples_by_class_caps_classes_and_says_so_and_leaves_missing_examples_blank():
    images, labels = class_coded_images(per_class=2, classes=3)
    fig = charts.samples_by_class(images, labels, ["a", "b", "c"], per_class=3, max_classes=2)
    assert fig.layout.title.text.endswith("(first 2 of 3 classes)")
    z = pixels(fig)
    assert z.shape[1] == 2 * 4 + 2
    assert (tile(z, 2, 0) == 255).all()  # class "a" has only two images: third tile blank
    assert (z != 30).all()  # nothing from the class left out


def test_samples_by_class_with_one_class_or_no_images():
    images, labels = class_coded_images(per_class=3, classes=1)
    assert pixels(charts.samples_by_class(images, labels, ["only"])).shape[1] == 4
    empty = charts.samples_by_class(np.zeros((0, 4, 4, 1), np.uint8), np.zeros(0, int), ["a"])
    assert note_text(empty) == ["no images to show"]

"""cnnkit.explorer.charts.classify: probability_bars, gallery, computer_vs_human."""

import numpy as np
import pytest

from chart_figures import pixels
from cnnkit.explorer import charts


# ---- probability_bars --------------------------------------------------------------------


def test_probability_bars_colour_the_wrong_prediction_red_and_the_true_class_blue():
    fig = charts.probability_bars([0.1, 0.6, 0.3], ["cat", "dog", "eel"], true_index=2)
    bars = fig.data[0]
    assert list(bars.x) == ["cat", "dog", "eel"] and list(bars.y) == [0.1, 0.6, 0.3]  # class order
    assert list(bars.marker.color) == [charts.OTHER, charts.WRONG, charts.RIGHT]
    assert tuple(fig.layout.yaxis.range) == (0, 1) and "%{y:.1%}" in bars.hovertemplate


def test_probability_bars_of_the_top_classes_are_sorted_and_a_right_prediction_is_blue():
    fig = charts.probability_bars([0.05, 0.7, 0.1, 0.15], ["a", "b", "c", "d"], true_index=1, top=2)
    assert list(fig.data[0].x) == ["b", "d"] and list(fig.data[0].y) == [0.7, 0.15]
    assert list(fig.data[0].marker.color) == [charts.RIGHT, charts.OTHER]
    missed = charts.probability_bars([0.05, 0.7, 0.1, 0.15], ["a", "b", "c", "d"], true_index=0, top=2)
    assert "a: 5.0%" in missed.layout.title.text  # the true class is not among the bars
    with pytest.raises(ValueError):
        charts.probability_bars([0.5, 0.5], ["a", "b", "c"])


# ---- gallery / computer_vs_human -----------------------------------------------------------


def test_gallery_captions_span_two_lines_and_are_blue_when_right_and_red_when_wrong():
    images = np.zeros((3, 10, 10, 3), np.uint8)
    fig = charts.gallery(images, ["true: cat\npred: cat 90%", "true: cat\npred: dog 87%", "x"], columns=3,
                         correct=[True, False, True], title="Mistakes")
    captions = fig.layout.annotations
    assert [a.text for a in captions] == ["true: cat<br>pred: cat 90%", "true: cat<br>pred: dog 87%", "x"]
    assert [a.font.color for a in captions] == [charts.RIGHT, charts.WRONG, charts.RIGHT]
    assert pixels(fig).shape[0] == 2 * 3 + 10  # a band two lines high
    assert fig.layout.title.text == "Mistakes"
    assert all(a.font.color is None for a in charts.gallery(images, ["a", "b", "c"]).layout.annotations)


def test_a_gallery_in_a_column_narrower_than_planned_keeps_its_images_at_the_top():
    fig = charts.gallery(np.zeros((10, 8, 8, 1), np.uint8), ["true: 1\npred: 7"] * 10, columns=5, width=500)
    assert fig.layout.yaxis.constraintoward == "top"  # not a white band above the images, under the run's name


def test_a_hundred_captioned_images_make_one_gallery_with_a_caption_each():
    images = np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    fig = charts.gallery(images, [f"true: cat\npred: dog {i}%" for i in range(100)], correct=[i % 2 == 0 for i in range(100)])
    assert len(fig.layout.annotations) == 100


def test_computer_vs_human_labels_every_tile_and_marks_the_wrong_ones_red():
    images = np.zeros((4, 6, 6, 1), np.uint8)
    fig = charts.computer_vs_human(images, ["cat", "cat", "dog", "dog"], ["cat", "dog", "dog", "dog"], per_row=2)
    captions = fig.layout.annotations
    assert captions[1].text == "computer: dog<br>human: cat"
    assert [a.font.color for a in captions] == [None, charts.WRONG, None, None]
    assert pixels(fig).shape[1] == 2 * 6 + 2  # per_row tiles in a row
    assert fig.layout.title.text == "Computer vs human: 3 of 4 right"
    with pytest.raises(ValueError):
        charts.computer_vs_human(images, ["cat"], ["cat"])

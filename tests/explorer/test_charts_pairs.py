"""cnnkit.explorer.charts.pairs: pair_gallery puts each pair's images side by side."""

import numpy as np
import pytest

from chart_figures import pixels
from cnnkit.explorer import charts


def test_each_pair_sits_side_by_side_with_its_captions():
    first = np.zeros((3, 4, 4, 1), np.uint8)
    second = np.full((3, 4, 4, 1), 255, np.uint8)
    fig = charts.pair_gallery(first, second, ["train 1", "train 2", "train 3"], ["test 7", "test 8", "test 9"],
                              pairs_per_row=2, title="Near-duplicates")
    assert [a.text for a in fig.layout.annotations] == ["train 1", "test 7", "train 2", "test 8", "train 3", "test 9"]
    picture = pixels(fig)[..., 0]  # black first images, white second ones and white gaps
    assert picture.shape[1] == 4 * 4 + 3 * 2  # two pairs to a row: four tiles and the gaps between them
    first_row, second_row = picture[5], picture[-1]
    assert first_row[:4].max() == first_row[12:16].max() == 0  # tiles 1 and 3 of a row: the pairs' first images
    assert second_row[:4].max() == 0 and second_row[12:16].min() == 255  # the third pair alone in its row
    assert fig.layout.title.text == "Near-duplicates"


def test_no_pairs_and_mismatched_pairs():
    empty = np.zeros((0, 4, 4, 1), np.uint8)
    assert charts.pair_gallery(empty, empty, [], []).layout.annotations[0].text == "no images to show"
    with pytest.raises(ValueError):
        charts.pair_gallery(np.zeros((2, 4, 4, 1)), np.zeros((1, 4, 4, 1)), ["a", "b"], ["c"])

"""cnnkit.explorer.charts.network: feature_map_grid and grad_cam."""

import numpy as np
import pytest

from chart_figures import pixels
from cnnkit.explorer import charts


# ---- feature_map_grid / grad_cam -------------------------------------------------------------


def test_feature_map_grid_scales_every_channel_to_the_full_gray_range_on_its_own():
    maps = np.zeros((2, 2, 3))
    maps[..., 0] = [[2, 3], [4, 4]]  # 2..4 -> 0..255
    maps[..., 1] = [[-100, 0], [0, 100]]
    maps[..., 2] = 7  # constant -> 0
    fig = charts.feature_map_grid(maps, "conv2d", columns=3)
    z = pixels(fig)
    band, gap = 3, 2  # titles "0", "1", "2" above the 2x2 tiles
    tiles = [z[band : band + 2, c * (2 + gap) : c * (2 + gap) + 2, 0] for c in range(3)]
    assert tiles[0].tolist() == [[0, 128], [255, 255]]
    assert tiles[1].tolist() == [[0, 128], [128, 255]]
    assert tiles[2].tolist() == [[0, 0], [0, 0]]
    assert [a.text for a in fig.layout.annotations] == ["0", "1", "2"]
    assert fig.layout.title.text == "conv2d: 3 feature maps (2×2)"


def test_feature_map_grid_shows_the_first_maps_says_so_and_drops_numbers_on_tiny_tiles():
    maps = np.random.default_rng(0).normal(size=(1, 5, 5, 100))  # with the batch axis
    fig = charts.feature_map_grid(maps, "block2", max_maps=64, columns=32)
    assert fig.layout.title.text == "block2: first 64 of 100 feature maps (5×5)"
    assert pixels(fig).shape == (2 * 5 + 2, 32 * 5 + 31 * 2, 3)  # no title bands
    assert fig.layout.annotations == ()
    with pytest.raises(ValueError):
        charts.feature_map_grid(np.zeros((5, 5)), "dense")


def test_grad_cam_overlay_draws_the_heat_over_a_gray_image_only_where_it_counts():
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 200  # red: the overlay shows it gray
    heat = np.zeros((4, 4), "float32")
    heat[0, 0], heat[3, 3] = 1.0, charts.HEAT_SHOWN_FROM / 2
    out = charts.grad_cam_overlay(image, heat)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    gray = round(0.299 * 200)
    assert (out[3, 3] == gray).all() and (out[1:3, 1:3] == gray).all()  # weak or no heat: the gray image alone
    red, green, blue = out[0, 0].astype(int)
    assert min(red, green) > blue + 50 and blue > gray  # pale yellow, the hot end of inferno, over the gray
    assert charts.grad_cam_overlay(image, heat, scale=3).shape == (12, 12, 3)
    with pytest.raises(ValueError):
        charts.grad_cam_overlay(image, np.zeros((2, 2)))


def test_grad_cam_puts_the_enlarged_image_beside_the_heat_as_pngs_with_a_colour_bar():
    image = np.full((8, 8), 50, np.uint8)
    heat = np.zeros((8, 8), "float32")
    heat[2, 5] = 1
    fig = charts.grad_cam(image, heat, title="why '3'")
    left, right = pixels(fig, 0), pixels(fig, 1)
    assert left.shape == right.shape == (296, 296, 3)  # 8 px enlarged 37 times to about GRAD_CAM_PANEL_PX
    assert (left == 50).all() and (right != 50).any()
    assert all(trace.z is None for trace in fig.data[:2])  # no pixels in the JSON
    bar = fig.data[2].marker
    assert bar.showscale and (bar.cmin, bar.cmax) == (charts.HEAT_SHOWN_FROM, 1)
    assert fig.layout.title.text == "why '3'"
    assert not any("nothing here" in annotation.text for annotation in fig.layout.annotations)


def test_grad_cam_with_no_heat_says_nothing_raises_the_score():
    fig = charts.grad_cam(np.zeros((5, 7, 3), np.uint8), np.zeros((5, 7)))
    assert any("nothing here raises" in annotation.text for annotation in fig.layout.annotations)
    assert pixels(fig).shape == (5 * 42, 7 * 42, 3)

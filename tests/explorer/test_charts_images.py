"""cnnkit.explorer.charts.images: png and image_grid."""

import base64
import io

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from chart_figures import note_text, pixels
from cnnkit.explorer import charts


# ---- image_grid --------------------------------------------------------------------------


def test_image_grid_tiles_seven_images_in_three_columns_into_three_rows_of_one_image():
    images = np.zeros((7, 4, 5, 3), dtype=np.uint8)
    fig = charts.image_grid(images, columns=3, gap=2)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    assert pixels(fig).shape == (3 * 4 + 2 * 2, 3 * 5 + 2 * 2, 3)
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert fig.layout.yaxis.scaleanchor == "x"  # square pixels
    assert fig.layout.yaxis.constraintoward == "top"  # squeezed into a narrow column, it stays under its title


def test_every_image_figure_sends_its_pixels_as_one_png_not_as_numbers():
    rows, cols = np.mgrid[0:427, 0:640]
    photo = np.stack([rows * 255 // 426, cols * 255 // 639, (rows + cols) % 256], axis=-1).astype(np.uint8)
    grid = charts.image_grid(photo[None])
    assert len(grid.to_json()) < photo.size / 10  # as JSON numbers the pixels alone took ~3.5 bytes each
    small = np.zeros((4, 6, 6, 1), np.uint8)
    figures = [grid, charts.samples_by_class(small, np.arange(4) % 2, ["a", "b"]),
               charts.feature_map_grid(np.ones((5, 5, 3)), "conv"),
               charts.gallery(small, ["a"] * 4), charts.computer_vs_human(small, list("aabb"), list("abab"), per_row=2)]
    for fig in figures:
        assert [type(trace) for trace in fig.data] == [go.Image]
        assert fig.data[0].source.startswith("data:image/png;base64,") and fig.data[0].z is None


def test_png_encodes_gray_and_colour_images_losslessly():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    decoded = np.asarray(Image.open(io.BytesIO(charts.png(gray))))
    assert decoded.shape == (3, 4) and (decoded == gray[..., 0]).all()
    colour = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert (np.asarray(Image.open(io.BytesIO(charts.png(colour)))) == colour).all()


def test_image_grid_uses_no_more_columns_than_images_and_grows_taller_with_rows():
    assert pixels(charts.image_grid(np.zeros((3, 8, 8, 3), np.uint8), columns=10, gap=1)).shape == (8, 26, 3)
    short = charts.image_grid(np.zeros((10, 8, 8, 3), np.uint8), columns=10)
    tall = charts.image_grid(np.zeros((50, 8, 8, 3), np.uint8), columns=10)
    assert tall.layout.height > short.layout.height


def test_a_grid_for_a_narrower_column_is_proportionally_shorter():
    images = np.zeros((20, 32, 32, 3), np.uint8)
    full, half = (charts.gallery(images, ["cat"] * 20, columns=5, width=width) for width in (720, 360))
    margins = full.layout.margin.t + full.layout.margin.b
    assert (half.layout.height - margins) == pytest.approx((full.layout.height - margins) / 2, abs=1)


def test_gaps_and_title_bands_are_transparent_so_titles_read_on_a_dark_page_too():
    fig = charts.image_grid(np.zeros((2, 6, 6, 1), dtype=np.uint8), titles=["a", "b"], columns=2, gap=1)
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(fig.data[0].source.split(",", 1)[1]))))
    band = rgba.shape[0] - 6
    assert rgba.shape == (band + 6, 13, 4)
    assert (rgba[:band, :, 3] == 0).all() and (rgba[band:, 6, 3] == 0).all()  # the title band, the gap
    assert (rgba[band:, :6, 3] == 255).all() and (rgba[band:, 7:, 3] == 255).all()  # the tiles


def test_a_gray_tile_appears_unchanged_in_every_channel_with_white_gaps():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (4, 6, 6, 1), dtype=np.uint8)
    z = pixels(charts.image_grid(gray, columns=2, gap=1))
    tile = z[7:13, 7:13]  # second row, second column
    assert (tile == np.repeat(gray[3], 3, axis=-1)).all()
    assert (z[6, :] == 255).all() and (z[:, 6] == 255).all()
    assert "gray value" in charts.image_grid(gray).data[0].hovertemplate
    assert "RGB" in charts.image_grid(np.repeat(gray, 3, axis=-1)).data[0].hovertemplate


def test_image_grid_accepts_rgb_and_float_images():
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    rgb[0, 0, 0] = [255, 0, 0]
    assert pixels(charts.image_grid(rgb))[0, 0].tolist() == [255, 0, 0]
    floats = np.full((1, 2, 2, 3), 99.6, dtype=np.float32)
    assert pixels(charts.image_grid(floats))[0, 0].tolist() == [100, 100, 100]
    with pytest.raises(ValueError, match="1 or 3"):
        charts.image_grid(np.zeros((1, 2, 2, 4), np.uint8))


def test_titles_sit_in_a_band_above_their_tile_and_row_labels_left_of_the_row():
    images = np.zeros((4, 10, 10, 3), np.uint8)
    fig = charts.image_grid(images, titles=["a", "b"], columns=2, row_labels=["first", "second"], gap=2)
    z = pixels(fig)
    band = 3  # ceil(0.3 * 10): only the first row has titles
    assert z.shape == (band + 10 + 2 + 10, 22, 3)
    assert (z[:band] == 255).all() and (z[band : band + 10, :10] == 0).all()
    titles = [a for a in fig.layout.annotations if a.text in ("a", "b")]
    assert [a.x for a in titles] == [4.5, 16.5]  # tile centres
    assert all(-0.5 < a.y < band - 0.5 for a in titles)  # inside the band
    labels = [a for a in fig.layout.annotations if a.text in ("first", "second")]
    assert [a.xanchor for a in labels] == ["right", "right"] and labels[0].y < labels[1].y
    assert fig.layout.margin.l > 40


def test_image_grid_of_no_images_says_so():
    fig = charts.image_grid(np.zeros((0, 8, 8, 3), np.uint8))
    assert fig.data == () and note_text(fig) == ["no images to show"]


def test_a_hundred_cifar_sized_images_make_one_grid_with_every_row_titled():
    images = np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    fig = charts.image_grid(images, titles=[f"#{i}" for i in range(100)])
    assert pixels(fig).shape[:2] == (10 * 32 + 9 * 2 + 10 * 10, 10 * 32 + 9 * 2)  # every row titled

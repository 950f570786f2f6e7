"""The image filters (seed kernels, custom kernels, Canny) and per-image standardisation."""

import keras
import numpy as np
import pytest

from cnnkit.errors import InputError
from cnnkit.models.filters import PerImageStandardization, canny_edges, filter_image


def impulse(value=16.0):
    image = np.zeros((5, 5, 1), dtype="uint8")
    image[2, 2] = value
    return image


def test_sharpen_uses_the_seed_kernel_and_saturates_like_opencv():
    out = filter_image(impulse(40), "sharpen")[..., 0]
    assert out[2, 2] == 200 and out[1, 2] == 0  # 5 * 40; neighbours -40 clip to 0
    assert filter_image(impulse(60), "sharpen")[2, 2, 0] == 255


def test_gaussian_blur_spreads_an_impulse_with_the_1_2_1_kernel():
    out = filter_image(impulse(16), "blur")[..., 0]
    assert out[1:4, 1:4].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]


def test_edges_are_dark_on_flat_images_and_bright_on_a_step():
    flat = np.full((6, 6, 3), 90, dtype="uint8")
    assert filter_image(flat, "edges").max() == 0
    step = np.zeros((6, 6, 1), dtype="uint8")
    step[:, 3:] = 200
    edges = filter_image(step, "edges")[..., 0]
    assert edges[:, 2:4].min() > 100 and edges[:, 0].max() == 0


def test_custom_kernel_is_applied_as_typed():
    identity = np.zeros((3, 3))
    identity[1, 1] = 1
    image = np.random.default_rng(0).integers(0, 255, (7, 7, 3), dtype="uint8")
    assert np.array_equal(filter_image(image, kernel=identity), image)


def bright_square(size: int = 32, lo: int = 6, hi: int = 26) -> np.ndarray:
    """A 220 square (rows and columns lo..hi-1) on a 20 background, RGB."""
    image = np.full((size, size, 3), 20, dtype="uint8")
    image[lo:hi, lo:hi] = 220
    return image


def test_canny_returns_a_black_and_white_image_laid_out_like_the_other_filters():
    image = bright_square()
    edges = canny_edges(image)
    assert edges.shape == image.shape and edges.dtype == np.uint8
    assert set(np.unique(edges)) == {0, 255}
    assert (edges == edges[..., :1]).all()  # the same edge map in every channel
    assert np.array_equal(canny_edges(image.astype("float32")), edges)


def test_canny_finds_the_squares_boundary_and_nothing_inside_or_outside_it():
    lo, hi = 6, 26
    edges = canny_edges(bright_square(lo=lo, hi=hi))[..., 0] > 0
    band = np.zeros_like(edges)  # pixels within 1 px of the boundary between square and background
    band[lo - 1 : hi + 1, lo - 1 : hi + 1] = True
    band[lo + 1 : hi - 1, lo + 1 : hi - 1] = False
    assert edges.any() and not edges[~band].any()
    middle = slice(lo + 3, hi - 3)  # away from the corners every side is found, one pixel wide
    assert (edges[middle, lo - 1 : lo + 1].sum(axis=1) == 1).all()
    assert (edges[middle, hi - 1 : hi + 1].sum(axis=1) == 1).all()
    assert (edges[lo - 1 : lo + 1, middle].sum(axis=0) == 1).all()
    assert (edges[hi - 1 : hi + 1, middle].sum(axis=0) == 1).all()


def test_canny_edges_are_thin_where_the_sobel_response_is_wide():
    image = bright_square()
    sobel_row = filter_image(image, "edges")[16, :, 0]
    canny_row = canny_edges(image)[16, :, 0]
    assert (sobel_row > 25).sum() >= 6  # the blurred gradient is several pixels wide on each side...
    assert (canny_row > 0).sum() == 2  # ...non-maximum suppression keeps one pixel per side


def test_canny_flat_image_has_no_edges():
    assert canny_edges(np.full((10, 12, 3), 90, dtype="uint8")).max() == 0


def contrast_steps() -> np.ndarray:
    """A vertical step at column 20 whose contrast fades from 240 (top) to 60 (bottom), and, well
    apart from it, a square of contrast 60: the same weak contrast, but touching no strong edge."""
    image = np.zeros((48, 40, 1), dtype="float32")
    image[:, 20:, 0] = np.interp(np.arange(48), [8, 32], [240, 60])[:, None]
    image[16:30, 4:10] = 60
    return image


def test_canny_hysteresis_keeps_weak_edges_only_when_they_touch_strong_ones():
    image = contrast_steps()
    weak_end, isolated = (slice(36, 48), slice(18, 23)), (slice(12, 34), slice(0, 14))
    strong_only = canny_edges(image, low=0.5, high=0.5)[..., 0] > 0
    assert strong_only[:8, 18:23].any() and not strong_only[weak_end].any()  # the bottom of the step is weak
    with_weak = canny_edges(image, low=0.15, high=0.15)[..., 0] > 0
    assert with_weak[isolated].any()  # the square's edge is above the low threshold...
    edges = canny_edges(image, low=0.15, high=0.5)[..., 0] > 0
    assert (edges[weak_end].sum(axis=1) == 1).all()  # ...the weak end, connected to the strong top, is kept
    assert not edges[isolated].any()  # ...the equally weak but isolated square is dropped


def test_canny_with_high_thresholds_finds_almost_nothing_in_noise():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype="uint8")
    assert (canny_edges(noise, low=0.05, high=0.1) > 0).mean() > 0.05  # low thresholds: noise edges everywhere
    assert (canny_edges(noise, low=0.8, high=0.9) > 0).mean() < 0.01


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"sigma": 0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"sigma": float("nan")}, "sigma"),
        ({"low": -0.1}, "low"),
        ({"high": 1.5, "low": 0.1}, "high"),
        ({"low": 0.5, "high": 0.2}, "low"),
    ],
)
def test_canny_rejects_bad_settings_naming_the_setting(settings, named):
    with pytest.raises(InputError, match=named) as caught:
        canny_edges(bright_square(), **settings)
    assert caught.value.field == named


def test_per_image_standardization_centres_and_scales_each_image():
    batch = np.random.default_rng(1).uniform(0, 255, (3, 4, 4, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(PerImageStandardization()(batch))
    assert np.allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    assert np.allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-4)

"""cnnkit.models.corruptions under whichever backend KERAS_BACKEND selects (tests/test_jax_backend.py runs
it on JAX too): every corruption's shape and range on every image shape the datasets give, severity
growing the change, seeds repeating, and hand-worked cases for the exact ones."""

import io

import numpy as np
import pytest
from PIL import Image

from cnnkit.models import corruptions

SHAPES = [(4, 28, 28, 1), (4, 8, 8, 1), (3, 32, 32, 3)]  # MNIST, scikit-learn's digits, CIFAR-10
RANDOM = ("gaussian_noise", "shot_noise", "impulse_noise", "motion_blur", "rotate", "translate", "shear")


def digits_like(shape, seed=0) -> np.ndarray:
    """uint8 images with a bright blob on a dark ground (as digits are), plus texture for the colour ones."""
    n, height, width, channels = shape
    rows, cols = np.mgrid[:height, :width]
    blob = np.exp(-(((rows - height / 2) / (height / 5)) ** 2 + ((cols - width / 2) / (width / 6)) ** 2))
    texture = np.random.default_rng(seed).uniform(0, 60, shape)
    return np.clip(blob[None, ..., None] * 200 + texture, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape", SHAPES, ids=["28x28x1", "8x8x1", "32x32x3"])
@pytest.mark.parametrize("name", corruptions.CORRUPTIONS)
def test_every_corruption_keeps_the_shape_and_the_0_255_range_at_every_severity(name, shape):
    images = digits_like(shape)
    for severity in corruptions.SEVERITIES:
        out = corruptions.corrupt(images, name, severity, seed=1)
        assert out.shape == images.shape and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 255
        assert np.abs(out - images).mean() > 0.1, f"{name} at severity {severity} left the images as they were"


def test_float_images_on_the_0_255_scale_give_what_their_uint8_twins_give():
    images = digits_like(SHAPES[0])
    for name in corruptions.CORRUPTIONS:
        np.testing.assert_allclose(corruptions.corrupt(images.astype("float32"), name, 3, seed=4),
                                   corruptions.corrupt(images, name, 3, seed=4), atol=1e-3)


# The damage never shrinks as the severity grows, and the last is worse than the first (CIFAR-10-C's motion
# blur severities 3 and 4 differ only in a radius whose extra taps weigh nothing at sigma 2: a tie).
# JPEG's quality steps can tie on small images, so it is checked below, loosely.
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[2]], ids=["28x28x1", "32x32x3"])
@pytest.mark.parametrize("name", [name for name in corruptions.CORRUPTIONS if name != "jpeg_compression"])
def test_a_more_severe_corruption_moves_the_images_further(name, shape):
    images = digits_like((40, *shape[1:]))
    change = [np.abs(corruptions.corrupt(images, name, severity, seed=7) - images).mean()
              for severity in corruptions.SEVERITIES]
    assert all(later >= earlier for earlier, later in zip(change, change[1:])) and change[-1] > change[0], change
    assert sum(later > earlier for earlier, later in zip(change, change[1:])) >= 3, change


def test_jpeg_at_the_lowest_quality_changes_the_images_most_and_is_pillows_own_round_trip():
    images = digits_like((10, 28, 28, 1))
    change = [np.abs(corruptions.corrupt(images, "jpeg_compression", severity) - images).mean()
              for severity in corruptions.SEVERITIES]
    assert change[-1] > change[0]
    buffer = io.BytesIO()
    Image.fromarray(images[0, ..., 0]).save(buffer, "JPEG", quality=7)  # MNIST-C's severity 5
    np.testing.assert_array_equal(corruptions.corrupt(images, "jpeg_compression", 5)[0, ..., 0],
                                  np.asarray(Image.open(buffer)))


@pytest.mark.parametrize("name", RANDOM)
def test_the_same_seed_gives_the_same_images_and_another_seed_others(name):
    images = digits_like((20, 32, 32, 3))  # enough that two seeds' either-way draws differ somewhere
    first = corruptions.corrupt(images, name, 4, seed=11)
    np.testing.assert_array_equal(first, corruptions.corrupt(images, name, 4, seed=11))
    assert not np.array_equal(first, corruptions.corrupt(images, name, 4, seed=12))


def test_the_constants_are_the_benchmarks_by_channels():
    assert corruptions.parameter("gaussian_noise", 5, channels=1) == 0.38  # MNIST-C
    assert corruptions.parameter("gaussian_noise", 5, channels=3) == 0.10  # CIFAR-10-C
    assert corruptions.parameter("jpeg_compression", 1, channels=3) == 80
    assert corruptions.parameter("rotate", 2, channels=3) == 0.4  # only MNIST-C has it: used for colour too
    assert corruptions.source("rotate", 3) == corruptions.MNIST_C
    assert len(corruptions.CORRUPTIONS) >= 10
    with pytest.raises(ValueError, match="severity"):
        corruptions.parameter("contrast", 6, channels=1)
    with pytest.raises(ValueError, match="corruption"):
        corruptions.parameter("fog", 1, channels=1)


def test_contrast_and_brightness_are_the_benchmarks_formulas():
    images = digits_like(SHAPES[0]).astype("float64")
    x = images / 255
    means = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(corruptions.corrupt(images, "contrast", 2), ((x - means) * 0.3 + means) * 255, atol=1e-3)
    np.testing.assert_allclose(corruptions.corrupt(images, "brightness", 5), np.clip(x + 0.5, 0, 1) * 255, atol=1e-3)


def test_colour_brightness_raises_hsv_value_and_keeps_hue_and_saturation():
    import colorsys

    pixel = np.array([[[[200, 100, 50]]]], np.uint8)  # V = 200/255
    out = corruptions.corrupt(pixel, "brightness", 3, seed=0)[0, 0, 0] / 255  # CIFAR-10-C: + 0.15
    h, s, v = colorsys.rgb_to_hsv(*(pixel[0, 0, 0] / 255))
    np.testing.assert_allclose(out, colorsys.hsv_to_rgb(h, s, min(v + 0.15, 1)), atol=1e-5)


def test_impulse_noise_replaces_about_its_share_of_values_half_with_black_half_with_white():
    images = np.full((20, 28, 28, 1), 128, np.uint8)
    out = corruptions.corrupt(images, "impulse_noise", 5, seed=3)  # MNIST-C: 27 %
    assert abs((out == 0).mean() - 0.135) < 0.01 and abs((out == 255).mean() - 0.135) < 0.01
    assert ((out == 0) | (out == 255) | (out == 128)).all()


def test_shot_noise_keeps_black_black_and_has_poissons_mean_and_variance():
    images = np.zeros((10, 28, 28, 1), np.uint8)
    images[5:] = 51  # 0.2 on the 0-1 scale
    out = corruptions.corrupt(images, "shot_noise", 1, seed=2) / 255  # MNIST-C: 60 photons
    assert (out[:5] == 0).all()
    counts = out[5:] * 60  # Poisson(12) where not clipped at 1 (12 is far below 60)
    assert abs(counts.mean() - 12) < 0.3 and abs(counts.var() - 12) < 1.2


def test_pixelate_averages_blocks_and_leaves_a_flat_image_alone():
    flat = np.full((2, 28, 28, 1), 90, np.uint8)
    np.testing.assert_allclose(corruptions.corrupt(flat, "pixelate", 5), flat, atol=1e-3)
    stripes = np.zeros((1, 8, 8, 1), np.uint8)
    stripes[:, :, ::2] = 200
    out = corruptions.corrupt(stripes, "pixelate", 2)  # half the side: pairs of columns averaged
    np.testing.assert_allclose(out, np.full_like(out, 100), atol=1e-3)


def test_translate_moves_a_pixel_by_whole_steps_and_scale_keeps_the_centre():
    image = np.zeros((1, 28, 28, 1), np.uint8)
    image[0, 10, 12] = 255
    moved = corruptions.corrupt(image, "translate", 3, seed=0)[0, ..., 0]
    (row, col), = np.argwhere(moved > 0)
    assert (abs(row - 10), abs(col - 12)) == (3, 3) and moved[row, col] == 255
    centred = np.zeros((1, 29, 29, 1), np.uint8)
    centred[0, 14, 14] = 255
    assert corruptions.corrupt(centred, "scale", 5)[0, 14, 14, 0] == 255


def test_gaussian_blur_keeps_a_flat_images_value_to_its_edges_and_spreads_a_point_as_a_gaussian():
    flat = np.full((1, 8, 8, 1), 77, np.uint8)
    np.testing.assert_allclose(corruptions.corrupt(flat, "gaussian_blur", 5), flat, atol=1e-3)
    point = np.zeros((1, 41, 41, 1), np.uint8)
    point[0, 20, 20] = 255
    out = corruptions.corrupt(point, "gaussian_blur", 1)[0, 20, :, 0]  # MNIST-C: sigma 1 (scaled by 41/28)
    sigma = 41 / 28
    expected = np.exp(-(np.arange(41) - 20) ** 2 / (2 * sigma ** 2))
    np.testing.assert_allclose(out / out[20], expected, atol=1e-3)

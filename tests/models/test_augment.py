"""cnnkit.models.augment under whichever backend KERAS_BACKEND selects (run it under tensorflow and jax)."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from cnnkit.models.augment import RandomAffine, RandomFlip, RandomShift, affine_coordinates, resample, shifted_grid


def numpy(tensor) -> np.ndarray:
    return ops.convert_to_numpy(tensor)


# JAX compiles every eager op once per input shape, so the tests share a few shapes to stay fast.
BATCH, SIZE, CHANNELS = 8, 12, 3  # most layer tests
MANY, BIG = 200, 20  # the tests that measure ranges: many copies of one single-channel image


def ramp(batch=2, height=5, width=6, channels=2) -> np.ndarray:
    """Distinct pixel values everywhere, so any misplaced pixel shows."""
    return np.arange(batch * height * width * channels, dtype="float32").reshape(batch, height, width, channels) + 1


def marker(shape, *pixels, value=255.0) -> np.ndarray:
    """One (height, width, 1) image, 0 except `value` at each (row, col) in `pixels`."""
    image = np.zeros((*shape, 1), "float32")
    for row, col in pixels:
        image[row, col] = value
    return image


def centred_square(size: int, side: int) -> np.ndarray:
    start = (size - side) // 2
    image = np.zeros((size, size, 1), "float32")
    image[start : start + side, start : start + side] = 1.0
    return image


def transform(image, angle=0.0, scale=1.0, row_shift=0.0, col_shift=0.0, **resampling) -> np.ndarray:
    height, width = image.shape[:2]
    rows, cols = affine_coordinates(height, width, [angle], [scale], [row_shift], [col_shift])
    return numpy(resample(image[None], rows, cols, **resampling))[0]


# ---- resampling -------------------------------------------------------------------------


def test_a_shift_moves_content_by_the_shift_and_fills_with_zero():
    images = ramp()
    rows, cols = shifted_grid(5, 6, [1, -2], [-2, 3])
    out = numpy(resample(images, rows, cols, interpolation="nearest", fill="constant"))
    np.testing.assert_array_equal(out[0, 1:, :-2], images[0, :-1, 2:])  # down 1, left 2
    assert not out[0, 0].any() and not out[0, :, -2:].any()
    np.testing.assert_array_equal(out[1, :-2, 3:], images[1, 2:, :-3])  # up 2, right 3
    assert not out[1, -2:].any() and not out[1, :, :3].any()


def test_nearest_fill_extends_the_edge_pixels():
    images = ramp()
    rows, cols = shifted_grid(5, 6, [1, -2], [-2, 3])
    out = numpy(resample(images, rows, cols, interpolation="bilinear", fill="nearest"))
    for b, (dy, dx) in enumerate([(1, -2), (-2, 3)]):
        source_rows = np.clip(np.arange(5) - dy, 0, 4)
        source_cols = np.clip(np.arange(6) - dx, 0, 5)
        np.testing.assert_array_equal(out[b], images[b][source_rows][:, source_cols])


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_integer_coordinates_reproduce_pixels_exactly(interpolation):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1e3, 1e3, (3, 4, 7, 3)).astype("float32")
    rows, cols = rng.integers(0, 4, (3, 4, 7)), rng.integers(0, 7, (3, 4, 7))
    out = numpy(resample(images, rows.astype("float32"), cols.astype("float32"), interpolation=interpolation))
    np.testing.assert_array_equal(out, images[np.arange(3)[:, None, None], rows, cols])


def test_bilinear_sampling_between_pixels_averages_the_neighbours():
    image = np.array([[10, 20], [30, 60]], "float32")[None, :, :, None]

    def at(row, col, fill):
        return numpy(resample(image, np.full((1, 2, 2), row), np.full((1, 2, 2), col), fill=fill))[0, 0, 0, 0]

    assert at(0.5, 0.5, "nearest") == pytest.approx(30)
    assert at(0, 0.5, "nearest") == pytest.approx(15)
    assert at(0.25, 1, "nearest") == pytest.approx(0.75 * 20 + 0.25 * 60)
    assert at(-0.5, 0, "constant") == pytest.approx(5)  # half way to the zero outside
    assert at(-0.5, 0, "nearest") == pytest.approx(10)  # the edge extends


def test_a_quarter_turn_moves_an_off_centre_marker_and_keeps_a_centred_square():
    top_middle = marker((7, 7), (0, 3))
    turned = transform(top_middle, angle=math.pi / 2)
    assert np.unravel_index(turned.argmax(), turned.shape)[:2] == (3, 0)  # counter-clockwise as displayed
    assert turned.max() == pytest.approx(255, abs=1e-3)
    square = centred_square(7, 3)
    np.testing.assert_allclose(transform(square, angle=math.pi / 2), square, atol=1e-5)


def test_zooming_out_shrinks_a_centred_square_and_zooming_in_grows_it():
    square = centred_square(9, 5)
    np.testing.assert_array_equal(transform(square, scale=2.0), centred_square(9, 3))
    np.testing.assert_array_equal(transform(square, scale=0.5), np.ones_like(square))


def test_resampling_matches_keras_affine_transform():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (BATCH, SIZE, SIZE + 3, CHANNELS)).astype("float32")
    angles, scales = rng.uniform(-0.5, 0.5, BATCH), rng.uniform(0.7, 1.3, BATCH)
    row_shifts, col_shifts = rng.uniform(-2, 2, BATCH), rng.uniform(-2, 2, BATCH)
    rows, cols = affine_coordinates(SIZE, SIZE + 3, angles, scales, row_shifts, col_shifts)
    # The same map as Keras' 8-number transform: output (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2).
    centre_row, centre_col = (SIZE - 1) / 2, (SIZE + 2) / 2
    cos, sin = np.cos(angles) * scales, np.sin(angles) * scales
    x0, y0 = col_shifts + centre_col, row_shifts + centre_row
    zero = np.zeros(BATCH)
    matrix = np.stack([cos, -sin, centre_col - cos * x0 + sin * y0, sin, cos, centre_row - sin * x0 - cos * y0, zero, zero], 1)
    for interpolation, fill in [("bilinear", "nearest"), ("nearest", "constant")]:  # RandomAffine's, RandomShift's
        ours = numpy(resample(images, rows, cols, interpolation=interpolation, fill=fill))
        theirs = numpy(
            ops.image.affine_transform(images, matrix.astype("float32"), interpolation=interpolation, fill_mode=fill)
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-2, err_msg=f"{interpolation}, fill {fill}")


# ---- layers -------------------------------------------------------------------------------


def every_layer(seed=0):
    return [
        RandomFlip("horizontal_and_vertical", seed=seed),
        RandomAffine(rotation=30, zoom=0.2, translate=0.2, seed=seed),
        RandomShift(3, seed=seed),
    ]


def copies(image, count=BATCH) -> np.ndarray:
    return np.repeat(image[None], count, axis=0)


def noise(seed, low=0.0, high=255.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, (SIZE, SIZE, CHANNELS)).astype("float32")


@pytest.mark.parametrize("training", [False, None])
def test_layers_are_the_identity_outside_training_and_draw_nothing(training):
    images = ramp(BATCH, SIZE, SIZE, CHANNELS)
    for layer in every_layer():
        state = numpy(layer.seed_generator.state)
        np.testing.assert_array_equal(numpy(layer(images, training=training)), images)
        np.testing.assert_array_equal(numpy(layer.seed_generator.state), state)


def test_training_outputs_stay_in_the_inputs_range_and_differ_between_images():
    image = noise(2, low=10, high=200)
    for layer in every_layer(seed=5):
        out = numpy(layer(copies(image), training=True))
        assert out.shape == (BATCH, SIZE, SIZE, CHANNELS) and out.dtype == np.float32
        low = 0.0 if isinstance(layer, RandomShift) else image.min()  # pad-and-crop fills with 0
        assert low - 1e-3 <= out.min() and out.max() <= image.max() + 1e-3, type(layer).__name__
        assert len({picture.tobytes() for picture in out}) > 1, type(layer).__name__


def test_pad_and_crop_copies_pixel_values_exactly():
    image = noise(3)
    out = numpy(RandomShift(2, seed=1)(copies(image), training=True))
    assert set(out.ravel()) <= set(image.ravel()) | {0.0}


def test_the_same_seed_repeats_the_draws_and_another_seed_changes_them():
    batch = copies(noise(4))
    for first, again, other in zip(every_layer(seed=7), every_layer(seed=7), every_layer(seed=8)):
        out = numpy(first(batch, training=True))
        np.testing.assert_array_equal(numpy(again(batch, training=True)), out)
        assert not np.array_equal(numpy(other(batch, training=True)), out), type(first).__name__


@pytest.mark.parametrize(
    "mode, flips",
    [
        ("horizontal", [lambda x: x, lambda x: x[:, ::-1]]),
        ("vertical", [lambda x: x, lambda x: x[::-1]]),
        ("horizontal_and_vertical", [lambda x: x, lambda x: x[:, ::-1], lambda x: x[::-1], lambda x: x[::-1, ::-1]]),
    ],
)
def test_flip_modes_give_each_image_one_of_their_flips_and_use_all_of_them(mode, flips):
    image = noise(5)
    out = numpy(RandomFlip(mode, seed=0)(copies(image, MANY), training=True))
    seen = [next(i for i, flip in enumerate(flips) if np.array_equal(picture, flip(image))) for picture in out]
    assert sorted(set(seen)) == list(range(len(flips)))


def centres_of_mass(images) -> np.ndarray:
    """(row, col) centre of mass of each single-channel image, shape (B, 2)."""
    grid = np.stack(np.meshgrid(np.arange(images.shape[1]), np.arange(images.shape[2]), indexing="ij"))
    mass = images[..., 0]
    return np.einsum("bhw,khw->bk", mass, grid) / mass.sum(axis=(1, 2))[:, None]


def test_pad_and_crop_moves_a_pixel_at_most_its_range_and_reaches_both_ends():
    out = numpy(RandomShift(2, seed=3)(copies(marker((BIG, BIG), (10, 10)), MANY), training=True))
    assert np.all((out == 255).sum(axis=(1, 2, 3)) == 1) and np.all((out > 0).sum(axis=(1, 2, 3)) == 1)
    rows, cols = np.round(centres_of_mass(out)).astype(int).T
    assert set(rows - 10) == set(cols - 10) == {-2, -1, 0, 1, 2}


def test_translation_moves_a_marker_at_most_its_fraction_of_the_size():
    blob = marker((BIG, BIG), (9, 9), (9, 10), (10, 9), (10, 10))  # 2x2 pixels about the centre, 9.5
    out = numpy(RandomAffine(translate=0.1, seed=2)(copies(blob, MANY), training=True))
    moves = centres_of_mass(out) - 9.5
    assert np.abs(moves).max() <= 2.0 + 1e-3  # 0.1 of 20 pixels
    assert np.abs(moves).max(axis=0).min() > 1.5  # both axes use most of the range


def test_zoom_scales_a_square_within_its_range():
    square = centred_square(BIG, 8)
    out = numpy(RandomAffine(zoom=0.2, seed=4)(copies(square, MANY), training=True))
    area_ratios = out.sum(axis=(1, 2, 3)) / square.sum()  # zooming by s scales the area by 1 / s**2
    assert 1 / 1.2**2 - 0.05 <= area_ratios.min() < 0.8 and 1.3 < area_ratios.max() <= 1 / 0.8**2 + 0.05


def test_a_model_with_the_layers_trains_saves_and_loads_in_safe_mode(tmp_path):
    inputs = keras.Input((SIZE, SIZE, CHANNELS))
    x = inputs
    for layer in [RandomFlip("horizontal", seed=1), RandomAffine(10, 0.1, 0.1, seed=2), RandomShift(2, seed=3)]:
        x = layer(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    model.compile("sgd", "mse")
    images = copies(noise(6) / 255, 2 * BATCH)
    # Keras batches the arrays without a fixed batch size (TensorFlow traces the step with batch None).
    model.fit(images, np.zeros((2 * BATCH, 2)), batch_size=BATCH, epochs=1, verbose=0)
    path = tmp_path / "augmented.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert [type(layer) for layer in reloaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.get_config() for layer in reloaded.layers] == [layer.get_config() for layer in model.layers]
    np.testing.assert_array_equal(numpy(reloaded(images[:BATCH])), numpy(model(images[:BATCH])))


def test_layers_compute_in_float32_under_a_mixed_precision_policy():
    images = copies(noise(7))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        for layer in every_layer():
            for batch in (images, ops.cast(images, "bfloat16")):
                assert ops.dtype(layer(batch, training=True)) == "float32", type(layer).__name__
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomFlip("diagonal"),
        lambda: RandomAffine(rotation=-1),
        lambda: RandomAffine(zoom=1.0),
        lambda: RandomAffine(translate=-0.1),
        lambda: RandomShift(-1),
        lambda: RandomShift(2.5),
    ],
)
def test_impossible_arguments_are_refused(make):
    with pytest.raises(ValueError):
        make()

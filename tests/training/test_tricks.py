import keras
import numpy as np
import pytest

from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.models.filters import PerImageStandardization, canny_edges, filter_image
from cnnkit.models.schedules import CyclicLR, ExponentialRamp, OneCycle, suggest_lr_range
from cnnkit.training.tricks import augment_samples, input_layers, make_optimizer, schedule_preview


def values(schedule, steps):
    return keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(np.array(steps)))).tolist()


def test_triangular_cycle_rises_to_max_at_half_cycle_and_returns():
    clr = CyclicLR(0.001, 0.007, step_size=10)
    assert values(clr, [0, 5, 10, 15, 20, 30]) == pytest.approx([0.001, 0.004, 0.007, 0.004, 0.001, 0.007])


def test_triangular2_halves_the_amplitude_every_cycle():
    clr = CyclicLR(0.001, 0.007, step_size=10, mode="triangular2")
    assert values(clr, [10, 30, 50]) == pytest.approx([0.007, 0.004, 0.0025])


def test_exp_range_decays_the_amplitude_by_gamma_per_step():
    clr = CyclicLR(0.001, 0.007, step_size=10, mode="exp_range", gamma=0.9)
    assert values(clr, [10])[0] == pytest.approx(0.001 + 0.006 * 0.9**10, rel=1e-5)


def test_one_cycle_warms_up_to_the_peak_then_anneals_to_the_floor():
    schedule = OneCycle(0.01, 0.1, 1e-5, total_steps=100, warmup=0.3)
    assert values(schedule, [0, 15, 30, 100]) == pytest.approx([0.01, 0.055, 0.1, 1e-5], rel=1e-4)


def test_exponential_ramp_spans_the_range_geometrically():
    ramp = ExponentialRamp(1e-6, 1.0, steps=7)
    assert values(ramp, [0, 3, 6]) == pytest.approx([1e-6, 1e-3, 1.0], rel=1e-4)


def test_schedule_preview_covers_every_planned_step():
    cfg = TrainConfig(schedule="cosine", learning_rate=0.1, min_lr=0.001, epochs=4)
    lrs = schedule_preview(cfg, steps_per_epoch=25)
    assert len(lrs) == 100
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.001, rel=0.05)
    assert np.all(np.diff(lrs) <= 1e-12)
    assert np.all(schedule_preview(TrainConfig(schedule="plateau"), 10) == pytest.approx(1e-3))


@pytest.mark.parametrize("name, kind", [("sgd", keras.optimizers.SGD), ("rmsprop", keras.optimizers.RMSprop),
                                         ("adam", keras.optimizers.Adam), ("adamw", keras.optimizers.AdamW)])
def test_optimizers_by_name(name, kind):
    assert type(make_optimizer(TrainConfig(optimizer=name), steps_per_epoch=10)) is kind


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


def test_input_layers_order_prefilter_then_augmentation_then_normalisation():
    cfg = TrainConfig(prefilter="sharpen", flip="horizontal", rotation=10, zoom=0.1, translate=0.1, pad_crop=2)
    names = [layer.name for layer in input_layers(cfg, (28, 28, 1))]
    assert names == ["prefilter_sharpen", "aug_flip", "aug_geometry", "aug_pad_crop", "scale_0_1"]


def test_augmentation_changes_images_in_training_only_and_is_seeded():
    cfg = TrainConfig(rotation=30, translate=0.2, normalization="none", seed=3)
    batch = np.random.default_rng(2).uniform(0, 255, (4, 16, 16, 1)).astype("float32")

    def run(training):
        x = batch
        for layer in input_layers(cfg, (16, 16, 1)):
            x = layer(x, training=training)
        return keras.ops.convert_to_numpy(x)

    assert np.array_equal(run(False), batch)
    first, second = run(True), run(True)
    assert not np.allclose(first, batch)
    keras.utils.set_random_seed(0)
    again = run(True)
    keras.utils.set_random_seed(0)
    assert np.allclose(again, run(True))
    assert first.shape == second.shape


def test_lr_suggestion_finds_the_steep_descent_before_the_blow_up():
    lrs = np.logspace(-6, 0, 60)
    log_lr = np.log10(lrs)
    losses = 2.3 - 2.0 / (1 + np.exp(-(log_lr + 3) * 3))  # falls fastest near 1e-3 ...
    losses[log_lr > -1] += (log_lr[log_lr > -1] + 1) * 20  # ... and explodes past 1e-1
    suggestion = suggest_lr_range(lrs, losses)
    assert 1e-4 < suggestion.steepest < 1e-2
    assert suggestion.lower <= suggestion.upper < 1e-1


def test_lr_suggestion_range_contains_the_steepest_point_when_the_loss_falls_fastest_just_before_its_minimum():
    lrs = np.logspace(-6, 0, 100)
    log_lr = np.log10(lrs)
    losses = 2.3 - 2.0 / (1 + np.exp(-(log_lr + 2) * 4))  # falls fastest near 1e-2 ...
    losses[log_lr > -1] += (log_lr[log_lr > -1] + 1) * 30  # ... and turns at 1e-1: a tenth of that is below 1e-2
    suggestion = suggest_lr_range(lrs, losses)
    assert suggestion.lower <= suggestion.steepest <= suggestion.upper
    assert 1e-2 < suggestion.steepest < 3e-2 and suggestion.upper == suggestion.steepest
    assert suggestion.lower == pytest.approx(suggestion.upper / 3)


@pytest.mark.parametrize("seed", range(20))
def test_lr_suggestion_always_contains_its_steepest_point(seed):
    rng = np.random.default_rng(seed)
    lrs = np.logspace(-6, 0, int(rng.integers(5, 120)))
    losses = 2.3 + np.cumsum(rng.normal(0, 0.1, len(lrs)))
    suggestion = suggest_lr_range(lrs, losses)
    assert suggestion.lower <= suggestion.steepest <= suggestion.upper


def test_augment_samples_puts_each_original_before_its_augmented_copies():
    images = np.random.default_rng(4).integers(0, 255, (2, 12, 12, 1), dtype="uint8")
    out = augment_samples(TrainConfig(rotation=20, zoom=0.2, seed=1), images, copies=3)
    assert out.shape == (8, 12, 12, 1) and out.dtype == np.uint8
    assert np.array_equal(out[0], images[0]) and np.array_equal(out[4], images[1])
    assert not np.array_equal(out[1], images[0])
    plain = augment_samples(TrainConfig(), images, copies=2)
    assert np.array_equal(plain[1], images[0])  # no augmentation asked: copies equal the original

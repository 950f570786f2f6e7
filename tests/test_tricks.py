import keras
import numpy as np
import pytest

from cnnkit.config import TrainConfig
from cnnkit.tricks import (
    CyclicLR,
    ExponentialRamp,
    OneCycle,
    PerImageStandardization,
    augment_samples,
    filter_image,
    input_layers,
    make_optimizer,
    schedule_preview,
    suggest_lr_range,
)


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


def test_per_image_standardization_centres_and_scales_each_image():
    batch = np.random.default_rng(1).uniform(0, 255, (3, 4, 4, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(PerImageStandardization()(batch))
    assert np.allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    assert np.allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-4)


def test_input_layers_order_prefilter_then_augmentation_then_normalisation():
    cfg = TrainConfig(prefilter="sharpen", flip="horizontal", rotation=10, zoom=0.1, translate=0.1, pad_crop=2)
    names = [layer.name for layer in input_layers(cfg, (28, 28, 1))]
    assert names == ["prefilter_sharpen", "aug_flip", "aug_rotate", "aug_zoom", "aug_translate", "aug_pad_crop", "scale_0_1"]


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


def test_augment_samples_puts_each_original_before_its_augmented_copies():
    images = np.random.default_rng(4).integers(0, 255, (2, 12, 12, 1), dtype="uint8")
    out = augment_samples(TrainConfig(rotation=20, zoom=0.2, seed=1), images, copies=3)
    assert out.shape == (8, 12, 12, 1) and out.dtype == np.uint8
    assert np.array_equal(out[0], images[0]) and np.array_equal(out[4], images[1])
    assert not np.array_equal(out[1], images[0])
    plain = augment_samples(TrainConfig(), images, copies=2)
    assert np.array_equal(plain[1], images[0])  # no augmentation asked: copies equal the original

"""The training tricks a config turns on: schedule previews, optimizers, input layers, augmentation."""

import keras
import numpy as np
import pytest

from cnnkit.config import TrainConfig
from cnnkit.training.tricks import augment_samples, input_layers, make_optimizer, schedule_preview


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


def test_augment_samples_puts_each_original_before_its_augmented_copies():
    images = np.random.default_rng(4).integers(0, 255, (2, 12, 12, 1), dtype="uint8")
    out = augment_samples(TrainConfig(rotation=20, zoom=0.2, seed=1), images, copies=3)
    assert out.shape == (8, 12, 12, 1) and out.dtype == np.uint8
    assert np.array_equal(out[0], images[0]) and np.array_equal(out[4], images[1])
    assert not np.array_equal(out[1], images[0])
    plain = augment_samples(TrainConfig(), images, copies=2)
    assert np.array_equal(plain[1], images[0])  # no augmentation asked: copies equal the original

"""The config's network: built with its input layers and its seed, compiled with its optimizer and loss;
one-hot labels."""

import random

import keras
import numpy as np
import pytest

from cnnkit.config import TrainConfig
from cnnkit.training.network import build, compile_model, one_hot
from tiny_models import tiny_image_model


def test_one_hot_puts_a_single_one_at_each_label():
    encoded = one_hot(np.array([2, 0, 2]), num_classes=3)
    assert encoded.dtype == np.float32
    assert encoded.tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1]]


def test_the_built_network_takes_the_input_shape_and_has_the_configs_input_layers_first():
    cfg = TrainConfig(arch="kaggle_mnist_cnn", prefilter="sharpen", flip="horizontal")
    model = build(cfg, (8, 8, 1), num_classes=10)
    assert model.input_shape[1:] == (8, 8, 1) and model.output_shape[-1] == 10
    names = [layer.name for layer in model.layers]
    assert names.index("prefilter_sharpen") < names.index("aug_flip") < names.index("scale_0_1") < names.index("conv1")


def test_the_initial_weights_come_from_the_configs_seed_whatever_pythons_random_did_meanwhile():
    cfg = TrainConfig(arch="kaggle_mnist_cnn", seed=3)
    random.seed(1)
    first = build(cfg, (8, 8, 1), num_classes=10).get_weights()
    random.seed(2)  # as a job starting at the same time does
    for a, b in zip(first, build(cfg, (8, 8, 1), num_classes=10).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], build(cfg.replace(seed=4), (8, 8, 1), num_classes=10).get_weights()[0])


def test_compile_uses_the_configs_optimizer_label_smoothing_and_steps_per_execution():
    model = tiny_image_model()
    cfg = TrainConfig(optimizer="sgd", learning_rate=0.05, label_smoothing=0.2, steps_per_execution=3)
    compile_model(model, cfg, steps_per_epoch=10)
    assert type(model.optimizer) is keras.optimizers.SGD
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.05)
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.2)
    assert model.steps_per_execution == 3
    history = model.fit(np.zeros((4, 2, 3, 1), "float32"), one_hot(np.array([0, 1, 0, 1]), 2), verbose=0)
    assert set(history.history) == {"loss", "accuracy"}

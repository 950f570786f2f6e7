import threading

import keras
import numpy as np
import pytest
from keras import layers

from cnnkit.models.architectures import (
    ARCHITECTURES,
    Knobs,
    build_model,
    dtype_policy,
    get_architecture,
    layer_table,
    list_architectures,
    resolve_knobs,
    seed_param_count,
)
from cnnkit.errors import InputError

# ResNet-20 (conv biases kept, BN on the 1x1 projections), input 32x32x3, 10 classes:
#   stem    3*9*16+16 + 64                                          =     512
#   stage1  3 blocks * 2 * (16*9*16+16 + 64)                        =  14,304
#   stage2  (16*9*32+32 + 128) + (32*9*32+32 + 128) + (16*32+32 + 128)
#           + 2 blocks * 2 * (32*9*32+32 + 128)                     =  52,320
#   stage3  (32*9*64+64 + 256) + (64*9*64+64 + 256) + (32*64+64 + 256)
#           + 2 blocks * 2 * (64*9*64+64 + 256)                     = 207,040
#   head    64*10+10                                                =     650
# total 274,826 (Keras' ResNet-20 v1 example, without projection BN: 274,442).
SEED_PARAM_COUNTS = {
    "cifar10_simple_cnn": 2_168_362,
    "kaggle_mnist_cnn": 203_933,
    "mnist_cnn": 1_290_346,
    "alexnet_small": 635_170,
    "cifar10_bn_cnn": 552_874,
    "wide_elu_cnn": 6_777_060,
    "resnet_small": 274_826,
    "deep_mnist_cnn": 327_242,
    "airbench_cnn": 1_976_258,
}


def layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def conv_params(model):
    return sum(layer.count_params() for layer in layers_of(model, layers.Conv2D))


def test_every_architecture_has_an_expected_count():
    assert set(SEED_PARAM_COUNTS) == set(ARCHITECTURES)


@pytest.mark.parametrize("name", SEED_PARAM_COUNTS)
def test_seed_param_count(name):
    assert seed_param_count(name) == SEED_PARAM_COUNTS[name]


def test_alexnet_small_batch_norm_is_its_own():
    model = build_model("alexnet_small", (224, 224, 3), 2)
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 192
    assert [bn.name for bn in layers_of(model, layers.BatchNormalization)] == ["pool1_bn", "pool2_bn"]
    plain = build_model("alexnet_small", (224, 224, 3), 2, Knobs(batch_norm=False))
    assert not layers_of(plain, layers.BatchNormalization)


@pytest.mark.parametrize("name", SEED_PARAM_COUNTS)
@pytest.mark.parametrize("input_shape, num_classes", [((8, 8, 1), 10), ((28, 28, 1), 3)])
def test_builds_and_predicts_probabilities(name, input_shape, num_classes):
    model = build_model(name, input_shape, num_classes)
    batch = np.random.default_rng(0).random((2, *input_shape), dtype="float32")
    probabilities = np.asarray(model(batch, training=False))
    assert probabilities.shape == (2, num_classes)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", SEED_PARAM_COUNTS)
def test_layer_names(name):
    model = build_model(name, (32, 32, 3), 5)
    convs = [layer.name for layer in layers_of(model, layers.Conv2D)]
    assert convs == [f"conv{i}" for i in range(1, len(convs) + 1)]
    assert model.layers[-1].name == "predictions"
    assert model.name == name


def test_small_inputs_adapt_valid_convs_and_pools():
    # 8x8: conv1 5x5 valid -> 4x4, pool -> 2x2, so conv2's 3x3 valid falls back to same.
    model = build_model("kaggle_mnist_cnn", (8, 8, 1), 10)
    assert model.get_layer("conv2").padding == "same"
    assert build_model("kaggle_mnist_cnn", (28, 28, 1), 10).get_layer("conv2").padding == "valid"
    # 8x8: 8 -> 6 -> pool 3 -> 1 (the 2x2 pools of stages 2 and 3 are skipped).
    model = build_model("wide_elu_cnn", (8, 8, 1), 10)
    assert [pool.name for pool in layers_of(model, layers.MaxPooling2D)] == ["pool1"]


def activations(model):
    return {layer.get_config()["activation"] for layer in layers_of(model, layers.Activation)}


def test_activation_knob():
    assert activations(build_model("mnist_cnn", (28, 28, 1), 10)) == {"relu"}
    assert activations(build_model("mnist_cnn", (28, 28, 1), 10, Knobs(activation="elu"))) == {"elu"}
    assert activations(build_model("mnist_cnn", (28, 28, 1), 10, Knobs(activation="leaky_relu"))) == {
        "leaky_relu"
    }
    assert activations(build_model("wide_elu_cnn", (32, 32, 3), 100)) == {"elu"}


def test_batch_norm_knob_adds_bn_after_conv_and_hidden_dense_activations():
    knobs = resolve_knobs("kaggle_mnist_cnn", batch_norm=True)
    model = build_model("kaggle_mnist_cnn", (28, 28, 1), 10, knobs)
    names = [layer.name for layer in model.layers]
    assert [bn.name for bn in layers_of(model, layers.BatchNormalization)] == [
        "conv1_bn", "conv2_bn", "fc1_bn", "fc2_bn",
    ]
    assert names.index("conv1_bn") == names.index("conv1_act") + 1
    assert not layers_of(build_model("kaggle_mnist_cnn", (28, 28, 1), 10), layers.BatchNormalization)


def test_width_scales_hidden_layers_not_the_output():
    full = build_model("cifar10_simple_cnn", (32, 32, 3), 10)
    half = build_model("cifar10_simple_cnn", (32, 32, 3), 10, Knobs(width=0.5))
    assert 0.2 < conv_params(half) / conv_params(full) < 0.3
    assert half.get_layer("fc1").units == 256
    assert half.get_layer("predictions").units == 10
    tiny = build_model("kaggle_mnist_cnn", (28, 28, 1), 10, Knobs(width=0.001))
    assert tiny.get_layer("conv1").filters == 1


def test_dropout_scale():
    def rates(knobs):
        model = build_model("mnist_cnn", (28, 28, 1), 10, knobs)
        return [layer.rate for layer in layers_of(model, layers.Dropout)]

    assert rates(Knobs()) == pytest.approx([0.4, 0.5, 0.5])
    assert rates(Knobs(dropout_scale=0.5)) == pytest.approx([0.2, 0.25, 0.25])
    assert rates(Knobs(dropout_scale=10)) == pytest.approx([0.9, 0.9, 0.9])
    assert rates(Knobs(dropout_scale=0)) == []


def test_resnet_dropout_is_off_by_default():
    assert not layers_of(build_model("resnet_small", (32, 32, 3), 10), layers.Dropout)
    model = build_model("resnet_small", (32, 32, 3), 10, resolve_knobs("resnet_small", dropout_scale=1))
    assert model.get_layer("dropout1").rate == pytest.approx(0.2)


def test_resolve_knobs_fills_in_architecture_defaults():
    assert resolve_knobs("wide_elu_cnn") == Knobs(activation="elu")
    assert resolve_knobs("wide_elu_cnn", width=2) == Knobs(activation="elu", width=2)
    assert resolve_knobs("cifar10_bn_cnn", batch_norm=False).batch_norm is False


@pytest.mark.parametrize(
    "knob, value",
    [
        ("activation", "sigmoid"),
        ("width", 0),
        ("width", -1.0),
        ("dropout_scale", -0.1),
        ("batch_norm", "yes"),
    ],
)
def test_invalid_knobs_name_the_knob(knob, value):
    with pytest.raises(InputError, match=knob):
        resolve_knobs("mnist_cnn", **{knob: value})


def test_unknown_architecture_lists_known_ones():
    with pytest.raises(InputError, match="nope") as error:
        get_architecture("nope")
    assert all(name in str(error.value) for name in ARCHITECTURES)


@pytest.mark.parametrize(
    "input_shape, num_classes, culprit",
    [
        ((28, 28), 10, "input_shape"),
        ((28, 0, 1), 10, "input_shape"),
        ((28, 28, 5), 10, "channels"),
        ((28, 28, 1), 1, "num_classes"),
        ((28, 28, 1), 2.5, "num_classes"),
    ],
)
def test_build_model_validates_shape_and_classes(input_shape, num_classes, culprit):
    with pytest.raises(InputError, match=culprit):
        build_model("mnist_cnn", input_shape, num_classes)


def test_preprocessing_sits_between_input_and_body():
    preprocessing = [layers.Rescaling(1 / 255, name="rescale"), layers.Resizing(16, 16, name="resize")]
    model = build_model("mnist_cnn", (28, 28, 1), 10, preprocessing=preprocessing)
    assert [layer.name for layer in model.layers[:4]] == ["image", "rescale", "resize", "conv1"]
    assert model.get_layer("conv1").input.shape == (None, 16, 16, 1)


def test_list_architectures():
    listing = {entry["name"]: entry for entry in list_architectures()}
    assert set(listing) == set(ARCHITECTURES)
    entry = listing["cifar10_bn_cnn"]
    assert entry["param_count"] == SEED_PARAM_COUNTS["cifar10_bn_cnn"]
    assert entry["seed"] == "003"
    assert entry["seed_input_shape"] == (32, 32, 3)
    assert entry["seed_num_classes"] == 10
    assert entry["default_knobs"] == {
        "activation": "relu",
        "batch_norm": True,
        "dropout_scale": 1.0,
        "width": 1.0,
    }


def test_layer_table_lists_layers_with_shapes_and_params_summing_to_the_total():
    model = build_model("kaggle_mnist_cnn", (28, 28, 1), 10)
    rows = layer_table(model)
    assert rows[1]["layer"] == "conv1" and rows[1]["output shape"] == "24x24x30" and rows[1]["params"] == 780
    assert sum(row["params"] for row in rows) == 203_933


def test_a_mixed_precision_body_keeps_float32_preprocessing_and_softmax_and_leaves_the_policy_as_it_was():
    scale = layers.Rescaling(1 / 255, name="scale")
    model = build_model("resnet_small", (16, 16, 3), 10, preprocessing=[scale], precision="mixed_bfloat16")
    assert scale.dtype_policy.name == "float32"
    assert model.get_layer("conv1").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("conv1").kernel.dtype == "float32"  # weights stay float32
    assert model.get_layer("predictions").dtype_policy.name == "float32"
    assert model.output.dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"


def test_the_dtype_policy_scope_is_per_thread():
    seen = {}
    with dtype_policy("mixed_float16"):
        worker = threading.Thread(target=lambda: seen.setdefault("other", keras.config.dtype_policy().name))
        worker.start()
        worker.join()
        seen["this"] = keras.config.dtype_policy().name
    assert seen == {"other": "float32", "this": "mixed_float16"}

"""Feature maps, filters, Grad-CAM and probabilities on tiny models."""

import keras
import numpy as np
import pytest

from cnnkit.models import inspection
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.training.network import build


def tiny(arch, shape=(8, 8, 1), classes=10, **options):
    return build(TrainConfig(dataset="digits", arch=arch, **options), shape, classes)


def random_images(count, shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype="uint8")


def submodel_output(model, layer, image):
    return keras.Model(model.input, model.get_layer(layer).output).predict_on_batch(image[None].astype("float32"))[0]


@pytest.fixture(scope="module")
def mnist():
    return tiny("kaggle_mnist_cnn")


@pytest.fixture(scope="module")
def resnet():
    return tiny("resnet_small", (16, 16, 3))


def blobs(count, left, seed):
    """Dim noise plus one bright 4x4 square within 6 pixels of a 16x16 image's left edge if `left`, else its right.

    (Squares straddling the middle would blur across it in the last conv layer's 4x4 map.)
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, (count, 16, 16, 1)).astype("uint8")
    for image in images:
        row, col = rng.integers(0, 13), rng.integers(0, 3) + (0 if left else 10)
        image[row : row + 4, col : col + 4] = 255
    return images


@pytest.fixture(scope="module")
def left_right():
    """A small CNN trained on class 1 = bright square on the left, class 0 = on the right."""
    keras.utils.set_random_seed(0)
    model = tiny("kaggle_mnist_cnn", (16, 16, 1), 2)
    x = np.concatenate([blobs(256, left=False, seed=1), blobs(256, left=True, seed=2)])
    y = np.repeat([0, 1], 256)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x.astype("float32"), y, batch_size=32, epochs=3, shuffle=True, verbose=0)
    return model


def test_conv_layer_names_follow_model_order(mnist, resnet):
    assert inspection.conv_layer_names(mnist) == ["conv1", "conv2"]
    names = inspection.conv_layer_names(resnet)
    assert names == [f"conv{i}" for i in range(1, 22)]  # ResNet-20: stem, 18 block convs, 2 projections


def test_feature_maps_are_each_conv_layers_activation_for_one_image(mnist):
    image = random_images(1, (8, 8, 1))[0]
    maps = inspection.feature_maps(mnist, image)
    assert list(maps) == ["conv1", "conv2"]
    for name, activation in maps.items():
        assert activation.dtype == np.float32
        assert activation.shape == tuple(mnist.get_layer(name).output.shape[1:])
        np.testing.assert_allclose(activation, submodel_output(mnist, f"{name}_act", image), rtol=1e-5, atol=1e-6)
        assert activation.min() >= 0  # after the relu
    assert list(inspection.feature_maps(mnist, image, ["conv2"])) == ["conv2"]


def test_feature_maps_use_the_raw_conv_output_where_no_activation_follows_it(resnet):
    image = random_images(1, (16, 16, 3))[0]
    maps = inspection.feature_maps(resnet, image, ["conv1", "conv3", "conv10"])
    np.testing.assert_allclose(maps["conv1"], submodel_output(resnet, "conv1_act", image), rtol=1e-5, atol=1e-5)
    # conv3 is block 1's second conv, conv10 a projection shortcut: their activation follows the add.
    np.testing.assert_allclose(maps["conv3"], submodel_output(resnet, "conv3", image), rtol=1e-5, atol=1e-5)
    assert maps["conv10"].shape == (8, 8, 32)


def test_unknown_layers_and_classes_are_refused_with_the_valid_ones_named(mnist):
    image = random_images(1, (8, 8, 1))[0]
    with pytest.raises(InputError, match="conv1, conv2"):
        inspection.feature_maps(mnist, image, ["fc1"])
    with pytest.raises(InputError, match="'pool1'"):
        inspection.filters(mnist, "pool1")
    with pytest.raises(InputError):
        inspection.grad_cam(mnist, image, layer="nope")
    with pytest.raises(InputError, match="between 0 and 9"):
        inspection.grad_cam(mnist, image, class_index=10)


def test_a_second_feature_maps_call_reuses_the_extractor_without_tracing_again(traces):
    model = tiny("cifar10_bn_cnn", (32, 32, 3))
    first_image, second_image = random_images(2, (32, 32, 3))
    inspection.feature_maps(model, first_image)
    extractor = inspection._extractors[model]
    assert traces == {id(extractor): 1}
    inspection.feature_maps(model, second_image, ["conv3"])
    assert inspection._extractors[model] is extractor and traces == {id(extractor): 1}


def test_filters_are_per_filter_stretched_uint8_kernels(mnist):
    kernels = inspection.filters(mnist)
    assert kernels.shape == (30, 5, 5, 1) and kernels.dtype == np.uint8
    assert (kernels.min(axis=(1, 2, 3)) == 0).all() and (kernels.max(axis=(1, 2, 3)) == 255).all()
    assert inspection.filters(mnist, "conv2").shape == (15, 3, 3, 1)  # 30 input channels averaged to gray


def test_filters_keep_rgb_and_a_constant_filter_is_black():
    model = tiny("cifar10_simple_cnn", (8, 8, 3))
    conv1 = model.get_layer("conv1")
    kernel = keras.ops.convert_to_numpy(conv1.kernel)
    kernel[..., 0] = 0.5
    conv1.kernel.assign(kernel)
    kernels = inspection.filters(model)
    assert kernels.shape == (32, 3, 3, 3)
    assert (kernels[0] == 0).all()
    assert (kernels[1:].max(axis=(1, 2, 3)) == 255).all()


def test_grad_cam_is_an_input_sized_map_scaled_to_one(left_right):
    image = blobs(1, left=True, seed=3)[0]
    heat = inspection.grad_cam(left_right, image)
    assert heat.shape == (16, 16) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() == pytest.approx(1)
    predicted = int(inspection.predict_probabilities(left_right, image[None])[0].argmax())
    np.testing.assert_allclose(heat, inspection.grad_cam(left_right, image, class_index=predicted))
    assert inspection.grad_cam(left_right, image, layer="conv1").shape == (16, 16)


@pytest.mark.parametrize("left", [True, False])
def test_grad_cam_puts_the_heat_where_the_evidence_for_the_class_is(left_right, left):
    image = blobs(1, left=left, seed=4)[0]
    heat = inspection.grad_cam(left_right, image, class_index=int(left))
    left_mass, right_mass = heat[:, :8].sum(), heat[:, 8:].sum()
    assert (left_mass > right_mass) if left else (right_mass > left_mass)


def test_grad_cam_of_a_layer_with_no_activation_is_all_zero_not_nan():
    model = tiny("kaggle_mnist_cnn")
    conv2 = model.get_layer("conv2")
    conv2.kernel.assign(np.zeros(conv2.kernel.shape, "float32"))
    conv2.bias.assign(np.zeros(conv2.bias.shape, "float32"))
    heat = inspection.grad_cam(model, random_images(1, (8, 8, 1))[0])
    assert heat.shape == (8, 8) and not heat.any()


def test_grad_cam_layers_are_every_conv_layer_naming_where_a_resnet_block_is_explained(mnist, resnet):
    assert inspection.grad_cam_layers(mnist) == {"conv1": "conv1", "conv2": "conv2"}
    layers = inspection.grad_cam_layers(resnet)
    assert list(layers) == inspection.conv_layer_names(resnet)
    assert layers["conv1"] == "conv1"  # the stem's activation feeds everything after it
    assert layers["conv2"] == "conv2 (at its block's output, block1_add)"
    assert layers["conv3"] == "conv3 (at its block's output, block1_add)"
    assert layers["conv10"] == "conv10 (at its block's output, block4_add)"  # a projection shortcut


@pytest.mark.slow
def test_grad_cam_explains_every_resnet_layer_at_its_block_output_where_a_shortcut_joins(resnet):
    image = random_images(1, (16, 16, 3))[0]
    heat = {layer: inspection.grad_cam(resnet, image, layer=layer) for layer in inspection.conv_layer_names(resnet)}
    assert all(map.shape == (16, 16) and np.isfinite(map).all() for map in heat.values())
    assert any(map.max() == pytest.approx(1) for map in heat.values())
    # the stem's own activation feeds everything after it; block convs share their block's output
    assert not np.allclose(heat["conv1"], heat["conv2"])
    np.testing.assert_array_equal(heat["conv2"], heat["conv3"])
    np.testing.assert_array_equal(heat["conv8"], heat["conv9"])  # the first downsampling block,
    np.testing.assert_array_equal(heat["conv8"], heat["conv10"])  # with its projection shortcut


def test_predict_probabilities_batches_through_the_model(mnist):
    images = random_images(7, (8, 8, 1))
    probabilities = inspection.predict_probabilities(mnist, images, batch_size=3)
    assert probabilities.shape == (7, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(probabilities, mnist.predict(images.astype("float32"), verbose=0), rtol=1e-4, atol=1e-6)


def test_examples_by_class_takes_the_first_of_each_class_and_names_the_missing_ones():
    picks, missing = inspection.examples_by_class(np.array([2, 0, 2, 2, 0]), classes=4, per_class=2)
    assert picks.tolist() == [1, 4, 0, 2] and missing == [1, 3]
    picks, missing = inspection.examples_by_class(np.array([], dtype=int), classes=3, per_class=10)
    assert picks.dtype == np.int64 and picks.tolist() == [] and missing == [0, 1, 2]


def test_everything_works_on_a_model_saved_and_reloaded_safely(tmp_path):
    model = tiny("kaggle_mnist_cnn", prefilter="sharpen", flip="horizontal", normalization="standardize")
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    image = random_images(1, (8, 8, 1))[0]
    assert inspection.conv_layer_names(reloaded) == ["conv1", "conv2"]
    for name, activation in inspection.feature_maps(model, image).items():
        np.testing.assert_allclose(inspection.feature_maps(reloaded, image)[name], activation, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(inspection.filters(reloaded), inspection.filters(model))
    np.testing.assert_allclose(inspection.grad_cam(reloaded, image), inspection.grad_cam(model, image), atol=1e-5)


JAX_CHECK = """
import sys
import keras
import numpy as np
import cnnkit.models.filters  # registers cnnkit's layers for loading
from cnnkit.models import inspection

assert keras.backend.backend() == "jax"
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
image = np.load(sys.argv[2])
np.savez(sys.argv[3], probabilities=inspection.predict_probabilities(model, image[None]),
         heat=inspection.grad_cam(model, image), heat_other=inspection.grad_cam(model, image, class_index=0),
         **inspection.feature_maps(model, image))
"""


@pytest.mark.slow
def test_the_jax_backend_gives_the_same_probabilities_feature_maps_and_grad_cam(left_right, tmp_path):
    """The library must run where only JAX is installed (our GPU machines): same saved model, same answers."""
    import os
    import subprocess
    import sys

    pytest.importorskip("jax")  # in requirements-dev.txt, so CI runs this
    image = blobs(1, left=True, seed=5)[0]
    left_right.save(tmp_path / "model.keras")
    np.save(tmp_path / "image.npy", image)
    done = subprocess.run([sys.executable, "-c", JAX_CHECK, str(tmp_path / "model.keras"), str(tmp_path / "image.npy"),
                           str(tmp_path / "jax.npz")], env={**os.environ, "KERAS_BACKEND": "jax"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    jax = np.load(tmp_path / "jax.npz")
    assert jax["heat"].max() == pytest.approx(1)  # a real heat map, not two empty ones agreeing
    np.testing.assert_allclose(jax["probabilities"], inspection.predict_probabilities(left_right, image[None]), atol=1e-5)
    for layer, activation in inspection.feature_maps(left_right, image).items():
        np.testing.assert_allclose(jax[layer], activation, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(jax["heat"], inspection.grad_cam(left_right, image), atol=1e-4)
    np.testing.assert_allclose(jax["heat_other"], inspection.grad_cam(left_right, image, class_index=0), atol=1e-4)

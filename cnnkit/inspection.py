"""Looking inside a trained model: conv feature maps, filters, Grad-CAM heat maps, probabilities.

Works on the models `cnnkit.architectures` builds and on their saved copies: the input takes
raw 0-255 pixels, the conv layers are Conv2D named conv1..convN and the last layer
is the softmax Dense "predictions".

A conv layer's *feature map* is the output of its activation layer "<conv>_act" when the
architecture has one (conv -> activation [-> BatchNorm] in the VGG-style networks; conv ->
BatchNorm -> activation for a ResNet stem or block's first conv), else the raw conv output (a
ResNet block's second conv and projection shortcut, whose activation follows the residual add).
Grad-CAM explains the same tensors.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

from cnnkit.errors import InputError

# model -> its feature extractor, built on first use and dropped with the model.
_extractors: weakref.WeakKeyDictionary[keras.Model, keras.Model] = weakref.WeakKeyDictionary()


def conv_layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _conv_layer(model: keras.Model, layer: str) -> str:
    names = conv_layer_names(model)
    if layer not in names:
        raise InputError(f"{layer!r} is not a conv layer of this model; its conv layers are {', '.join(names)}.")
    return layer


def _feature_tensor(model: keras.Model, conv: str):
    activated = f"{conv}_act"
    has_activation = any(layer.name == activated for layer in model.layers)
    return model.get_layer(activated if has_activation else conv).output


def _extractor(model: keras.Model) -> keras.Model:
    """image -> [feature map of each conv layer, in order..., input of the classifier layer]."""
    extractor = _extractors.get(model)
    if extractor is None:
        outputs = [_feature_tensor(model, conv) for conv in conv_layer_names(model)]
        extractor = keras.Model(model.input, [*outputs, model.layers[-1].input])
        _extractors[model] = extractor
    return extractor


def _batch(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype="float32")[None]


def feature_maps(model: keras.Model, image: np.ndarray, layers: list[str] | None = None) -> dict[str, np.ndarray]:
    """Feature maps (H, W, C) of the named conv layers (default: all) for one image (H, W, C).

    One inference pass computes every conv layer's map; the extractor it runs is built once
    per model, so later calls cost only that pass.
    """
    names = conv_layer_names(model)
    wanted = names if layers is None else [_conv_layer(model, layer) for layer in layers]
    *maps, _ = _extractor(model).predict_on_batch(_batch(image))
    by_name = dict(zip(names, maps))
    return {name: by_name[name][0].astype("float32") for name in wanted}


def filters(model: keras.Model, layer: str | None = None) -> np.ndarray:
    """The kernels of a conv layer (default: the first) as small uint8 images (n_filters, kh, kw, channels).

    Each filter is stretched on its own to 0-255 (a constant filter is all 0). Kernels whose
    input depth is neither 1 nor 3 are averaged over it into one gray channel.
    """
    name = conv_layer_names(model)[0] if layer is None else _conv_layer(model, layer)
    kernels = np.transpose(ops.convert_to_numpy(model.get_layer(name).kernel), (3, 0, 1, 2))
    if kernels.shape[-1] not in (1, 3):
        kernels = kernels.mean(axis=-1, keepdims=True)
    low = kernels.min(axis=(1, 2, 3), keepdims=True)
    span = kernels.max(axis=(1, 2, 3), keepdims=True) - low
    scaled = np.divide(kernels - low, span, out=np.zeros_like(kernels), where=span > 0)
    return np.rint(scaled * 255).astype("uint8")


def _logits(classifier: keras.layers.Dense, hidden):
    """The classifier's scores before the softmax: Grad-CAM differentiates those, not the probabilities."""
    return ops.matmul(hidden, classifier.kernel) + classifier.bias


def _tensorflow_gradients(model, index, batch, class_index):
    import tensorflow as tf

    batch = tf.convert_to_tensor(batch)
    with tf.GradientTape() as tape:
        tape.watch(batch)  # so every op is recorded, frozen weights or not
        outputs = _extractor(model)(batch, training=False)
        logits = _logits(model.layers[-1], outputs[-1])[0]
        score = logits[int(np.argmax(logits)) if class_index is None else class_index]
    features = outputs[index]
    return features[0].numpy(), tape.gradient(score, features)[0].numpy()


# Keras backend -> fn(model, index of a conv layer, image batch, class index or None) returning
# that layer's feature map (h, w, k) and the gradient of the class score w.r.t. it, as numpy.
# JAX cannot differentiate w.r.t. an intermediate tensor of one forward pass: it needs the model
# split at the layer, which residual connections make awkward. Torch would mirror TensorFlow
# (torch.autograd.grad on the intermediate tensor) but cannot be tested here, so is not offered.
_GRADIENTS = {"tensorflow": _tensorflow_gradients}


def grad_cam(
    model: keras.Model, image: np.ndarray, class_index: int | None = None, layer: str | None = None
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) heat map over the image (H, W), in [0, 1].

    Explains `class_index` (default: the predicted class) at a conv layer's feature map
    (default: the last conv layer): the map's channels weighted by the spatially averaged
    gradient of the class score, rectified, resized bilinearly to the image and divided by its
    maximum (a map with nothing positive stays all 0). TensorFlow backend only.
    """
    backend = keras.backend.backend()
    if backend not in _GRADIENTS:
        raise NotImplementedError(f"Grad-CAM is implemented for the TensorFlow backend only, not {backend!r}.")
    classes = model.output_shape[-1]
    if class_index is not None and not 0 <= class_index < classes:
        raise InputError(f"class_index must be between 0 and {classes - 1}; got {class_index!r}.")
    names = conv_layer_names(model)
    index = len(names) - 1 if layer is None else names.index(_conv_layer(model, layer))
    features, gradients = _GRADIENTS[backend](model, index, _batch(image), class_index)
    cam = np.maximum(features @ gradients.mean(axis=(0, 1)), 0)
    heat = ops.convert_to_numpy(ops.image.resize(cam[None, :, :, None], np.shape(image)[:2], interpolation="bilinear"))
    heat = heat[0, :, :, 0]
    peak = heat.max()
    return np.clip(heat / peak, 0, 1) if peak > 0 else np.zeros_like(heat)


def _jet(values: np.ndarray) -> np.ndarray:
    """The 'jet' colormap (0 dark blue, cyan, yellow, 1 dark red) as (..., 3) floats in [0, 1]."""
    x = np.clip(values, 0, 1)[..., None]
    return np.clip(1.5 - np.abs(4 * x - np.array([3, 2, 1])), 0, 1)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """`heat` (H, W) in jet colours blended over the image (H, W, C), gray shown as RGB: uint8 (H, W, 3)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    rgb = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image[..., :1], 3, axis=-1)
    blended = (1 - alpha) * rgb + alpha * 255 * _jet(heat)
    return np.clip(np.rint(blended), 0, 255).astype("uint8")


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, classes) for images (N, H, W, C) of 0-255 pixels.

    Batch by batch through predict_on_batch, which for a few images is many times faster than
    model.predict.
    """
    batches = (np.asarray(images[i : i + batch_size], dtype="float32") for i in range(0, len(images), batch_size))
    return np.concatenate([model.predict_on_batch(batch) for batch in batches]).astype("float32")

"""Looking inside a trained model: conv feature maps, filters, Grad-CAM heat maps, probabilities.

Works on the models `cnnkit.models.architectures` builds and on their saved copies: the input takes
raw 0-255 pixels, the conv layers are Conv2D named conv1..convN and the last layer
is the softmax Dense "predictions".

A conv layer's *feature map* is the output of its activation layer "<conv>_act" when the
architecture has one (conv -> activation [-> BatchNorm] in the VGG-style networks; conv ->
BatchNorm -> activation for a ResNet stem or block's first conv), else the raw conv output (a
ResNet block's second conv and projection shortcut, whose activation follows the residual add).
Grad-CAM explains the same tensors, except where a residual connection joins after them: there
it explains the block's output.
"""

from __future__ import annotations

import contextlib
import threading
import weakref

import keras
import numpy as np
from keras import ops

from cnnkit.errors import InputError

# model -> its feature extractor, built on first use and dropped with the model. Built under a
# lock: a cached model is shared by every browser session's script thread.
_extractors: weakref.WeakKeyDictionary[keras.Model, keras.Model] = weakref.WeakKeyDictionary()
_building = threading.RLock()


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
    """image -> [feature map of each conv layer, in order]."""
    with _building:
        if model not in _extractors:
            _extractors[model] = keras.Model(model.input, [_feature_tensor(model, conv) for conv in conv_layer_names(model)])
        return _extractors[model]


def _batch(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype="float32")[None]


def feature_maps(model: keras.Model, image: np.ndarray, layers: list[str] | None = None) -> dict[str, np.ndarray]:
    """Feature maps (H, W, C) of the named conv layers (default: all) for one image (H, W, C).

    One inference pass computes every conv layer's map; the extractor it runs is built once
    per model, so later calls cost only that pass.
    """
    names = conv_layer_names(model)
    wanted = names if layers is None else [_conv_layer(model, layer) for layer in layers]
    maps = _extractor(model).predict_on_batch(_batch(image))
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


# model -> {conv layer -> (image -> explained tensor, explained tensor -> classifier input)}
_grad_cam_splits: weakref.WeakKeyDictionary[keras.Model, dict[str, tuple[keras.Model, keras.Model]]] = (
    weakref.WeakKeyDictionary()
)


def _explained_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """conv layer -> the layer whose output Grad-CAM explains for it: the first layer from the conv's
    feature map on that the rest of the network reads alone (no later layer takes a tensor from
    before it). That is the feature map itself, or where a residual connection joins later (a ResNet
    block), the block's output. Layers whose explained output is not a spatial map are left out."""
    layers = model.layers
    made_by = {id(layer.output): index for index, layer in enumerate(layers)}
    earliest_read = [min((made_by[id(tensor)] for tensor in keras.tree.flatten(layer.input)), default=index)
                     if not isinstance(layer, keras.layers.InputLayer) else index
                     for index, layer in enumerate(layers)]
    reads_from_later = np.minimum.accumulate(earliest_read[::-1])[::-1]  # [i]: earliest tensor read by layers i..
    explained = {}
    for conv in conv_layer_names(model):
        feature = _feature_tensor(model, conv)
        start = made_by[id(feature)]
        cut = next((i for i in range(start, len(layers) - 1) if reads_from_later[i + 1] >= i), None)
        if cut is not None and len(layers[cut].output.shape) == 4:
            explained[conv] = layers[cut]
    return explained


def grad_cam_layers(model: keras.Model) -> dict[str, str]:
    """conv layer -> how a picker names it, for every conv layer Grad-CAM can explain, in model order.

    A layer explained at a later tensor (a ResNet block's output, where its shortcut joins) says so.
    """
    return {conv: conv if layer.name in (conv, f"{conv}_act") else f"{conv} (at its block's output, {layer.name})"
            for conv, layer in _explained_layers(model).items()}


def _grad_cam_split(model: keras.Model, conv: str) -> tuple[keras.Model, keras.Model]:
    """The model cut in two at the tensor Grad-CAM explains for `conv` (see _explained_layers)."""
    with _building:
        splits = _grad_cam_splits.setdefault(model, {})
        if conv not in splits:
            explained = _explained_layers(model).get(conv)
            if explained is None:
                raise InputError(f"Grad-CAM can't explain {conv!r}: no spatial map after it feeds the classifier alone.")
            splits[conv] = keras.Model(model.input, explained.output), keras.Model(explained.output, model.layers[-1].input)
        return splits[conv]


def _gradient(score, x: np.ndarray) -> np.ndarray:
    """d score(x) / d x for a scalar function of one array, with the backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = score(x)
        return tape.gradient(value, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(score)(x))
    # torch would be torch.autograd.grad on a tensor on the model's device; untested here, so not offered.
    raise NotImplementedError(f"Grad-CAM is implemented for the TensorFlow and JAX backends, not {backend!r}.")


def grad_cam(
    model: keras.Model, image: np.ndarray, class_index: int | None = None, layer: str | None = None
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) heat map over the image (H, W), in [0, 1].

    Explains `class_index` (default: the predicted class) at a conv layer's feature map
    (default: the last conv layer; in a ResNet block, the block's output): the map's channels
    weighted by the spatially averaged gradient of the class score, rectified, resized bilinearly
    to the image and divided by its maximum (a map with nothing positive stays all 0).
    TensorFlow and JAX backends.
    """
    classes = model.output_shape[-1]
    if class_index is not None and not 0 <= class_index < classes:
        raise InputError(f"class_index must be between 0 and {classes - 1}; got {class_index!r}.")
    to_features, head = _grad_cam_split(model, conv_layer_names(model)[-1] if layer is None else _conv_layer(model, layer))
    features = to_features.predict_on_batch(_batch(image))
    classifier = model.layers[-1]
    if class_index is None:
        class_index = int(np.argmax(ops.convert_to_numpy(_logits(classifier, head.predict_on_batch(features)))[0]))
    gradients = _gradient(lambda x: _logits(classifier, head(x, training=False))[0, class_index], features)
    cam = np.maximum(features[0] @ gradients[0].mean(axis=(0, 1)), 0)
    heat = ops.convert_to_numpy(ops.image.resize(cam[None, :, :, None], np.shape(image)[:2], interpolation="bilinear"))
    heat = heat[0, :, :, 0]
    peak = heat.max()
    return np.clip(heat / peak, 0, 1) if peak > 0 else np.zeros_like(heat)


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, classes) for images (N, H, W, C) of 0-255 pixels.

    Batch by batch through predict_on_batch, which for a few images is many times faster than
    model.predict.
    """
    batches = (np.asarray(images[i : i + batch_size], dtype="float32") for i in range(0, len(images), batch_size))
    return np.concatenate([model.predict_on_batch(batch) for batch in batches]).astype("float32")


# model -> image -> (what its classifier reads, probabilities), built on first use like _extractors.
_classifier_views: weakref.WeakKeyDictionary[keras.Model, keras.Model] = weakref.WeakKeyDictionary()


def classifier_inputs(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """What the final softmax layer reads (N, D), and the class probabilities (N, classes), for
    images (N, H, W, C) of 0-255 pixels: one pass, the network's own summary of each image."""
    with _building:
        if model not in _classifier_views:
            _classifier_views[model] = keras.Model(model.input, [model.layers[-1].input, model.output])
        view = _classifier_views[model]
    parts = [view.predict_on_batch(np.asarray(images[i : i + batch_size], dtype="float32"))
             for i in range(0, len(images), batch_size)]
    if not parts:
        return np.zeros((0, model.layers[-1].input.shape[-1]), "float32"), np.zeros((0, model.output_shape[-1]), "float32")
    return tuple(np.concatenate([np.asarray(part[j]) for part in parts]).astype("float32") for j in (0, 1))


def examples_by_class(labels: np.ndarray, classes: int, per_class: int) -> tuple[np.ndarray, list[int]]:
    """Indices of the first `per_class` images of each of classes 0..classes-1, class by class (fewer
    where a class has fewer), and the classes among those with no image at all."""
    labels = np.asarray(labels).ravel()
    picks = [np.flatnonzero(labels == c)[:per_class] for c in range(classes)]
    return np.concatenate([np.zeros(0, dtype=np.int64), *picks]), [c for c, chosen in enumerate(picks) if not len(chosen)]


def warm_up(model: keras.Model) -> None:
    """Run one blank image through the predictions, classifier inputs, feature maps and Grad-CAM of a
    freshly loaded model, so the first real image is answered as fast as later ones: each first call
    traces its function, about half a second apiece."""
    blank = np.zeros(model.input_shape[1:], dtype="float32")
    predict_probabilities(model, blank[None])
    classifier_inputs(model, blank[None])
    feature_maps(model, blank)
    with contextlib.suppress(NotImplementedError):  # a backend without Grad-CAM has nothing to warm
        grad_cam(model, blank)

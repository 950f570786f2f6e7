"""The CNN architectures cnnkit can train, and the knobs that vary them.

Each architecture is a plain builder function registered under a name, with the
seed write-up it reproduces and the input shape / class count it was written for.
Builders are assembled from the small helpers below, which own the naming scheme
and the rules for adapting to small inputs.

Layer names (they label the feature-map views):
  conv<i>, fc<i>, pool<i>, dropout<i>   numbered in order within each kind
  <layer>_act, <layer>_bn               the activation / BatchNorm that follows <layer>
  block<i>_add, block<i>_act            a residual block's merge and its activation
  flatten, global_pool, predictions

Adapting to the input: a "valid" conv whose kernel is larger than the feature map
falls back to "same" padding, and a "valid" max-pool larger than the feature map is
skipped. ("same" convs and pools always produce at least 1x1.) At the seed shapes
neither rule fires, so the seed networks are reproduced exactly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
from keras import layers

from cnnkit.errors import InputError
from cnnkit.models.layer_seeds import kernel_initializer, layer_seeds, next_seed

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu")
MAX_DROPOUT = 0.9


@dataclass(frozen=True)
class Knobs:
    """Variations applied on top of an architecture; validated on construction."""

    activation: str = "relu"  # relu | leaky_relu | elu | gelu
    batch_norm: bool = False
    dropout_scale: float = 1.0  # multiplies every dropout rate (clipped to [0, 0.9]); 0 disables dropout
    width: float = 1.0  # multiplies filters and hidden units (not the output layer)

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise InputError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}."
            )
        if not isinstance(self.batch_norm, bool):
            raise InputError(f"batch_norm must be true or false; got {self.batch_norm!r}.")
        if not _is_finite_number(self.width) or self.width <= 0:
            raise InputError(
                f"width must be a positive number (1.0 keeps the original size); got {self.width!r}."
            )
        if not _is_finite_number(self.dropout_scale) or self.dropout_scale < 0:
            raise InputError(
                f"dropout_scale must be a number >= 0 (0 disables dropout); got {self.dropout_scale!r}."
            )


def _is_finite_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


Builder = Callable[[keras.KerasTensor, int, Knobs], keras.KerasTensor]


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    seed: str  # the write-up it comes from, e.g. "000"; "beyond" for networks past the seeds
    seed_input_shape: tuple[int, int, int]
    seed_num_classes: int
    default_knobs: Knobs  # reproduces the seed network exactly
    builder: Builder  # features in -> softmax probabilities out


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(
    name: str,
    *,
    description: str,
    seed: str,
    seed_input_shape: tuple[int, int, int],
    seed_num_classes: int,
    default_knobs: Knobs = Knobs(),
) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to ARCHITECTURES under `name`."""

    def register(builder: Builder) -> Builder:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is already registered")
        ARCHITECTURES[name] = Architecture(
            name, description, seed, seed_input_shape, seed_num_classes, default_knobs, builder
        )
        return builder

    return register


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise InputError(
            f"Unknown architecture {name!r}. Known architectures: {', '.join(sorted(ARCHITECTURES))}."
        ) from None


def resolve_knobs(
    name: str,
    activation: str | None = None,
    batch_norm: bool | None = None,
    dropout_scale: float | None = None,
    width: float | None = None,
) -> Knobs:
    """The architecture's default knobs with every non-None argument overriding its default."""
    overrides = dict(activation=activation, batch_norm=batch_norm, dropout_scale=dropout_scale, width=width)
    return dataclasses.replace(
        get_architecture(name).default_knobs,
        **{knob: value for knob, value in overrides.items() if value is not None},
    )


def build_model(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    knobs: Knobs | None = None,
    preprocessing: Sequence[layers.Layer] = (),
    precision: str = "float32",
    seed: int | None = None,
) -> keras.Model:
    """image input -> preprocessing layers (in order) -> the architecture's body -> probabilities.

    `precision` is the body's Keras dtype policy ("float32", "mixed_bfloat16", "mixed_float16"):
    a mixed body computes in 16 bits and keeps float32 weights, while the preprocessing layers
    (built by the caller) and the softmax stay float32. With `seed`, the body's initial weights and
    dropout masks come from it alone (`layer_seeds`); without, from Python's process-wide `random`.
    """
    architecture = get_architecture(name)
    input_shape = _check_input_shape(input_shape)
    if not _is_int(num_classes) or num_classes < 2:
        raise InputError(f"num_classes must be an integer of at least 2; got {num_classes!r}.")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in preprocessing:
        x = layer(x)
    knobs = architecture.default_knobs if knobs is None else knobs
    with dtype_policy(precision), layer_seeds(seed):
        outputs = architecture.builder(x, int(num_classes), knobs)
    return keras.Model(inputs, outputs, name=name)


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build layers under Keras dtype policy `name`. Keras keeps the policy per thread, so
    jobs training in other threads are not affected."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_input_shape(input_shape) -> tuple[int, int, int]:
    if (
        not isinstance(input_shape, Sequence)
        or len(input_shape) != 3
        or not all(_is_int(d) and d > 0 for d in input_shape)
    ):
        raise InputError(
            f"input_shape must be (height, width, channels) with positive integers; got {input_shape!r}."
        )
    if not 1 <= input_shape[2] <= 4:
        raise InputError(
            f"input_shape {tuple(input_shape)!r} has {input_shape[2]} channels; "
            "images have 1 to 4 (grey, grey+alpha, RGB, RGBA)."
        )
    return tuple(int(d) for d in input_shape)


@functools.cache
def seed_param_count(name: str) -> int:
    """Parameters (BatchNorm statistics included) at the seed shape with default knobs."""
    architecture = get_architecture(name)
    return build_model(name, architecture.seed_input_shape, architecture.seed_num_classes).count_params()


def list_architectures() -> list[dict]:
    return [
        {
            "name": a.name,
            "description": a.description,
            "seed": a.seed,
            "seed_input_shape": a.seed_input_shape,
            "seed_num_classes": a.seed_num_classes,
            "param_count": seed_param_count(a.name),
            "default_knobs": dataclasses.asdict(a.default_knobs),
        }
        for a in ARCHITECTURES.values()
    ]


# --- Shared building blocks -------------------------------------------------------


def scaled(units: int, knobs: Knobs) -> int:
    return max(1, round(units * knobs.width))


def conv(x, filters, kernel, name, knobs, *, padding="same", strides=1):
    """A Conv2D; "valid" padding falls back to "same" when the kernel exceeds the feature map."""
    if padding == "valid" and kernel > min(x.shape[1:3]):
        padding = "same"
    return layers.Conv2D(scaled(filters, knobs), kernel, strides=strides, padding=padding, name=name,
                         kernel_initializer=kernel_initializer())(x)


def activation(x, knobs, name):
    return layers.Activation(knobs.activation, name=f"{name}_act")(x)


def batch_norm(x, knobs, name):
    """BatchNorm named after the layer it follows, only when knobs.batch_norm."""
    return layers.BatchNormalization(name=f"{name}_bn")(x) if knobs.batch_norm else x


def conv_block(x, filters, kernel, name, knobs, *, padding="same", strides=1):
    """conv -> activation -> BatchNorm (the seed-003 order)."""
    x = conv(x, filters, kernel, name, knobs, padding=padding, strides=strides)
    return batch_norm(activation(x, knobs, name), knobs, name)


def dense_block(x, units, name, knobs):
    """Hidden dense -> activation -> BatchNorm."""
    x = layers.Dense(scaled(units, knobs), name=name, kernel_initializer=kernel_initializer())(x)
    return batch_norm(activation(x, knobs, name), knobs, name)


def pool(x, size, name, *, strides=None, padding="valid"):
    """Max-pool, skipped when a "valid" window would not fit the feature map."""
    if padding == "valid" and size > min(x.shape[1:3]):
        return x
    return layers.MaxPooling2D(size, strides=strides, padding=padding, name=name)(x)


def dropout(x, rate, knobs, name):
    """Dropout at rate * dropout_scale (at most 0.9); no layer at all when that is 0."""
    rate = min(MAX_DROPOUT, rate * knobs.dropout_scale)
    return layers.Dropout(rate, seed=next_seed(), name=name)(x) if rate > 0 else x


def predictions(x, num_classes):
    """The softmax classifier, float32 whatever the body's precision (16-bit softmax loses accuracy)."""
    return layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32",
                        kernel_initializer=kernel_initializer())(x)


def vgg_stack(x, num_classes, knobs, *, stages, fc_units, second_padding="same"):
    """VGG-style body shared by several seeds.

    Each stage is (filters, kernel, dropout rate): two convs (the second with
    `second_padding`), max-pool 2, dropout. Then flatten, one hidden dense layer,
    dropout 0.5 and the classifier.
    """
    for i, (filters, kernel, rate) in enumerate(stages, start=1):
        x = conv_block(x, filters, kernel, f"conv{2 * i - 1}", knobs)
        x = conv_block(x, filters, kernel, f"conv{2 * i}", knobs, padding=second_padding)
        x = pool(x, 2, f"pool{i}")
        x = dropout(x, rate, knobs, f"dropout{i}")
    x = layers.Flatten(name="flatten")(x)
    x = dense_block(x, fc_units, "fc1", knobs)
    x = dropout(x, 0.5, knobs, f"dropout{len(stages) + 1}")
    return predictions(x, num_classes)


# --- The architectures --------------------------------------------------------------


@register_architecture(
    "cifar10_simple_cnn",
    description="Keras' simple deep CNN for CIFAR-10: two conv-conv-pool stages and a 512-unit dense layer.",
    seed="000",
    seed_input_shape=(32, 32, 3),
    seed_num_classes=10,
)
def cifar10_simple_cnn(x, num_classes, knobs):
    return vgg_stack(x, num_classes, knobs, stages=[(32, 3, 0.25), (64, 3, 0.25)], fc_units=512)


@register_architecture(
    "kaggle_mnist_cnn",
    description="Small Kaggle MNIST CNN: 5x5 and 3x3 valid convs, then two dense layers.",
    seed="001",
    seed_input_shape=(28, 28, 1),
    seed_num_classes=10,
)
def kaggle_mnist_cnn(x, num_classes, knobs):
    x = conv_block(x, 30, 5, "conv1", knobs, padding="valid")
    x = pool(x, 2, "pool1")
    x = conv_block(x, 15, 3, "conv2", knobs, padding="valid")
    x = dropout(x, 0.2, knobs, "dropout1")
    x = layers.Flatten(name="flatten")(x)
    x = dense_block(x, 128, "fc1", knobs)
    x = dense_block(x, 50, "fc2", knobs)
    return predictions(x, num_classes)


@register_architecture(
    "mnist_cnn",
    description="MNIST CNN with 5x5 then 3x3 conv pairs and a 384-unit dense layer.",
    seed="002",
    seed_input_shape=(28, 28, 1),
    seed_num_classes=10,
)
def mnist_cnn(x, num_classes, knobs):
    return vgg_stack(x, num_classes, knobs, stages=[(32, 5, 0.4), (64, 3, 0.5)], fc_units=384)


@register_architecture(
    "alexnet_small",
    description="Slim AlexNet-style face classifier: 11x11 stride-4 stem, BatchNorm after the first two pools.",
    seed="003",
    seed_input_shape=(224, 224, 3),
    seed_num_classes=2,
    default_knobs=Knobs(batch_norm=True),
)
def alexnet_small(x, num_classes, knobs):
    # BatchNorm here is part of the architecture: it follows the first two pools
    # (when knobs.batch_norm), never the convs or dense layers.
    plain = dataclasses.replace(knobs, batch_norm=False)
    x = conv_block(x, 32, 11, "conv1", plain, strides=4)
    x = batch_norm(pool(x, 3, "pool1", strides=2, padding="same"), knobs, "pool1")
    x = conv_block(x, 64, 5, "conv2", plain)
    x = batch_norm(pool(x, 3, "pool2", strides=2, padding="same"), knobs, "pool2")
    x = conv_block(x, 128, 3, "conv3", plain)
    x = conv_block(x, 64, 3, "conv4", plain)
    x = conv_block(x, 32, 3, "conv5", plain)
    x = layers.Flatten(name="flatten")(x)
    x = dropout(dense_block(x, 64, "fc1", plain), 0.5, knobs, "dropout1")
    x = dropout(dense_block(x, 64, "fc2", plain), 0.5, knobs, "dropout2")
    return predictions(x, num_classes)


@register_architecture(
    "cifar10_bn_cnn",
    description="CIFAR-10 CNN with BatchNorm after every conv: three conv-conv-pool stages.",
    seed="003",
    seed_input_shape=(32, 32, 3),
    seed_num_classes=10,
    default_knobs=Knobs(batch_norm=True),
)
def cifar10_bn_cnn(x, num_classes, knobs):
    return vgg_stack(
        x, num_classes, knobs, stages=[(32, 3, 0.3), (64, 3, 0.5), (128, 3, 0.5)], fc_units=128
    )


@register_architecture(
    "wide_elu_cnn",
    description="Wide ELU CNN for CIFAR-100: 128/256/512-filter stages, each a same conv then a valid conv.",
    seed="004",
    seed_input_shape=(32, 32, 3),
    seed_num_classes=100,
    default_knobs=Knobs(activation="elu"),
)
def wide_elu_cnn(x, num_classes, knobs):
    return vgg_stack(
        x,
        num_classes,
        knobs,
        stages=[(128, 3, 0.1), (256, 3, 0.25), (512, 3, 0.5)],
        fc_units=1024,
        second_padding="valid",
    )


def conv_bn(x, filters, kernel, name, knobs, *, strides=1):
    """conv -> BatchNorm (the ResNet order; the activation, if any, comes after)."""
    return batch_norm(conv(x, filters, kernel, name, knobs, strides=strides), knobs, name)


def residual_block(x, filters, strides, name, conv_names, knobs):
    """Basic block (He et al. 2015): two 3x3 convs plus a shortcut.

    The shortcut is the identity, or a 1x1 projection conv (+ BatchNorm) when the
    block changes the feature map's shape. `conv_names` yields the next conv<i> names.
    """
    first, second = next(conv_names), next(conv_names)
    y = activation(conv_bn(x, filters, 3, first, knobs, strides=strides), knobs, first)
    y = conv_bn(y, filters, 3, second, knobs)
    if x.shape[1:] != y.shape[1:]:
        x = conv_bn(x, filters, 1, next(conv_names), knobs, strides=strides)
    # Main path first: Keras orders same-depth layers by traversal of the Add's
    # inputs, so this keeps model.layers' convs in conv<i> order.
    return activation(layers.Add(name=f"{name}_add")([y, x]), knobs, name)


@register_architecture(
    "resnet_small",
    description="ResNet-20 for CIFAR (He et al. 2015): 3 stages x 3 basic blocks, 16/32/64 filters.",
    seed="beyond",
    seed_input_shape=(32, 32, 3),
    seed_num_classes=10,
    # Faithful ResNet-20 has no dropout; dropout_scale s > 0 adds dropout 0.2 * s before the classifier.
    default_knobs=Knobs(batch_norm=True, dropout_scale=0.0),
)
def resnet_small(x, num_classes, knobs):
    conv_names = (f"conv{i}" for i in itertools.count(1))
    stem = next(conv_names)
    x = activation(conv_bn(x, 16, 3, stem, knobs), knobs, stem)
    blocks = itertools.count(1)
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(3):
            strides = 2 if stage > 0 and i == 0 else 1
            x = residual_block(x, filters, strides, f"block{next(blocks)}", conv_names, knobs)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = dropout(x, 0.2, knobs, "dropout1")
    return predictions(x, num_classes)


@register_architecture(
    "deep_mnist_cnn",
    description="Deotte's Kaggle MNIST CNN: conv pairs with BatchNorm, strided 5x5 convs instead of pools, dropout 0.4.",
    seed="beyond",
    seed_input_shape=(28, 28, 1),
    seed_num_classes=10,
    default_knobs=Knobs(batch_norm=True),
)
def deep_mnist_cnn(x, num_classes, knobs):
    # C. Deotte, "How to choose CNN Architecture MNIST" (Kaggle, 2018): 99.7% for one such net
    # with augmentation; each 5x5 stride-2 "same" conv learns its own pooling.
    for stage, filters in enumerate((32, 64), start=1):
        first = 3 * stage - 2
        x = conv_block(x, filters, 3, f"conv{first}", knobs, padding="valid")
        x = conv_block(x, filters, 3, f"conv{first + 1}", knobs, padding="valid")
        x = conv_block(x, filters, 5, f"conv{first + 2}", knobs, strides=2)
        x = dropout(x, 0.4, knobs, f"dropout{stage}")
    x = conv_block(x, 128, 4, "conv7", knobs, padding="valid")
    x = layers.Flatten(name="flatten")(x)
    x = dropout(x, 0.4, knobs, "dropout3")
    return predictions(x, num_classes)


@register_architecture(
    "airbench_cnn",
    description="Jordan's airbench net: a 2x2 stem, then three conv-pool-BN groups of 64/256/256 filters, GELU.",
    seed="beyond",
    seed_input_shape=(32, 32, 3),
    seed_num_classes=10,
    default_knobs=Knobs(activation="gelu", batch_norm=True, dropout_scale=0.0),
)
def airbench_cnn(x, num_classes, knobs):
    # K. Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU" (arXiv:2404.00498): the network,
    # without its frozen whitening stem (ours is learned) and its lookahead optimizer.
    x = activation(conv(x, 24, 2, "conv1", knobs, padding="valid"), knobs, "conv1")
    for group, filters in enumerate((64, 256, 256), start=1):
        first, second = f"conv{2 * group}", f"conv{2 * group + 1}"
        x = pool(conv(x, filters, 3, first, knobs), 2, f"pool{group}")
        x = activation(batch_norm(x, knobs, first), knobs, first)
        x = activation(batch_norm(conv(x, filters, 3, second, knobs), knobs, second), knobs, second)
    x = layers.GlobalMaxPooling2D(name="global_pool")(x)
    x = dropout(x, 0.2, knobs, "dropout1")
    return predictions(x, num_classes)


def layer_table(model: keras.Model) -> list[dict]:
    """One row per layer: name, type, output shape and parameter count, as model.summary shows."""
    rows = []
    for layer in model.layers:
        shape = layer.output.shape if hasattr(layer, "output") else None
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": "x".join(str(d) for d in shape[1:]) if shape is not None else "",
                "params": layer.count_params(),
            }
        )
    return rows

"""Random image augmentation layers for training: flips, rotation/zoom/translation, pad-and-crop.

They resample with batched tensor ops (one gather per batch) that run on the TensorFlow and JAX
backends alike, instead of Keras' `ops.image.affine_transform`, which is very slow on JAX
accelerators (keras-team/keras#23229). Every layer is the identity outside training.
"""

from __future__ import annotations

import math
import numbers

import keras
from keras import layers, ops

INTERPOLATIONS = ("bilinear", "nearest")
FILLS = ("nearest", "constant")
FLIP_AXES = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}


def resample(images, rows, cols, *, interpolation: str = "bilinear", fill: str = "nearest"):
    """Output pixel (b, i, j) is `images` (B, H, W, C) read at the source point (rows, cols)[b, i, j];
    `rows` and `cols` are float (B, H, W).

    `interpolation` "bilinear" weighs the four neighbouring pixels, "nearest" takes the closest.
    `fill` says what lies outside the image: "nearest" extends the edge pixels (Keras'
    fill_mode="nearest"), "constant" is 0. All pixels' neighbours are read in one gather.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}; got {interpolation!r}")
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}; got {fill!r}")
    batch, height, width, channels = ops.shape(images)
    rows, cols = ops.cast(rows, "float32"), ops.cast(cols, "float32")
    if fill == "nearest":
        rows, cols = ops.clip(rows, 0, height - 1), ops.clip(cols, 0, width - 1)
    if interpolation == "nearest":
        neighbours = [(ops.round(rows), ops.round(cols), ops.ones_like(rows))]
    else:
        top, left = ops.floor(rows), ops.floor(cols)
        down, right = rows - top, cols - left
        neighbours = [
            (top, left, (1 - down) * (1 - right)),
            (top, left + 1, (1 - down) * right),
            (top + 1, left, down * (1 - right)),
            (top + 1, left + 1, down * right),
        ]
    first_pixel = ops.reshape(ops.arange(batch, dtype="int32") * (height * width), (-1, 1, 1))
    indices, weights = [], []
    for row, col, weight in neighbours:
        inside = (row >= 0) & (row <= height - 1) & (col >= 0) & (col <= width - 1)
        row = ops.cast(ops.clip(row, 0, height - 1), "int32")
        col = ops.cast(ops.clip(col, 0, width - 1), "int32")
        indices.append(first_pixel + row * width + col)
        weights.append(weight * ops.cast(inside, "float32"))
    pixels = ops.take(ops.reshape(images, (-1, channels)), ops.stack(indices), axis=0)  # (neighbours, B, H, W, C)
    weights = ops.cast(ops.expand_dims(ops.stack(weights), -1), images.dtype)
    return ops.sum(pixels * weights, axis=0)


def shifted_grid(height: int, width: int, row_shifts, col_shifts):
    """Source coordinates (rows, cols), each (B, H, W), that move each image's content by
    (row_shifts, col_shifts)[b] pixels (down, right): output(p) = input(p - shift)."""
    grid_rows, grid_cols = ops.meshgrid(
        ops.arange(height, dtype="float32"), ops.arange(width, dtype="float32"), indexing="ij"
    )
    return grid_rows[None] - _per_image(row_shifts), grid_cols[None] - _per_image(col_shifts)


def affine_coordinates(height: int, width: int, angles, scales, row_shifts, col_shifts):
    """Source coordinates (rows, cols), each (B, H, W), for turning each image about its centre
    ((H-1)/2, (W-1)/2) by `angles` (radians, counter-clockwise as displayed), zooming by `scales`
    (s > 1 zooms out: the output shows s times the height and width), then moving its content by
    (row_shifts, col_shifts) pixels as `shifted_grid` does. All parameters are per image, shape (B,).
    """
    centre_row, centre_col = (height - 1) / 2, (width - 1) / 2
    rows, cols = shifted_grid(height, width, row_shifts, col_shifts)
    rows, cols = rows - centre_row, cols - centre_col
    angles, scales = _per_image(angles), _per_image(scales)
    cos, sin = ops.cos(angles) * scales, ops.sin(angles) * scales
    return centre_row + sin * cols + cos * rows, centre_col + cos * cols - sin * rows


def _per_image(values):
    """(B,) parameters as (B, 1, 1), to broadcast over an image grid."""
    return ops.reshape(ops.cast(values, "float32"), (-1, 1, 1))


class _RandomAugmentation(layers.Layer):
    """What the augmentation layers share: seeded draws, float32 compute whatever the dtype policy
    (bfloat16 would blur pixel values and sub-pixel weights), and the identity unless training=True."""

    def __init__(self, seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        return self.augment(inputs) if training else inputs

    def augment(self, images):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="cnnkit")
class RandomFlip(_RandomAugmentation):
    """Flip each image left-right and/or upside down, each axis independently with probability 1/2."""

    def __init__(self, mode: str = "horizontal", seed: int | None = None, **kwargs):
        if mode not in FLIP_AXES:
            raise ValueError(f"mode must be one of {tuple(FLIP_AXES)}; got {mode!r}")
        super().__init__(seed, **kwargs)
        self.mode = mode

    def augment(self, images):
        batch = ops.shape(images)[0]
        for axis in FLIP_AXES[self.mode]:
            flipped = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < 0.5
            images = ops.where(flipped, ops.flip(images, axis=axis), images)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="cnnkit")
class RandomAffine(_RandomAugmentation):
    """Rotate, zoom and translate each image at random in one bilinear resampling, edges extended.

    Per image: an angle uniform in ±`rotation` degrees, a scale uniform in [1 - `zoom`, 1 + `zoom`]
    on both axes (above 1 zooms out), shifts uniform in ±`translate` of the height and of the width.
    The ranges are those of Keras' RandomRotation(rotation / 360), RandomZoom(zoom) and
    RandomTranslation(translate, translate), all with fill_mode="nearest".
    """

    def __init__(self, rotation: float = 0.0, zoom: float = 0.0, translate: float = 0.0, seed: int | None = None,
                 **kwargs):
        if rotation < 0 or translate < 0 or not 0 <= zoom < 1:
            raise ValueError(
                f"rotation and translate must be >= 0 and zoom in [0, 1); got {rotation}, {translate}, {zoom}"
            )
        super().__init__(seed, **kwargs)
        self.rotation, self.zoom, self.translate = rotation, zoom, translate

    def augment(self, images):
        batch, height, width, _ = ops.shape(images)

        def draw(limit):
            return keras.random.uniform((batch,), -limit, limit, seed=self.seed_generator)

        rows, cols = affine_coordinates(
            height,
            width,
            angles=draw(math.radians(self.rotation)),
            scales=1 + draw(self.zoom),
            row_shifts=draw(self.translate) * height,
            col_shifts=draw(self.translate) * width,
        )
        return resample(images, rows, cols, interpolation="bilinear", fill="nearest")

    def get_config(self):
        return {**super().get_config(), "rotation": self.rotation, "zoom": self.zoom, "translate": self.translate}


@keras.saving.register_keras_serializable(package="cnnkit")
class RandomShift(_RandomAugmentation):
    """Pad-and-crop: move each image by whole pixels, uniform in ±`pixels` on each axis independently,
    filling with 0 (zero-padding by `pixels` then cropping back at a random offset). Pixel values
    are copied exactly."""

    def __init__(self, pixels: int, seed: int | None = None, **kwargs):
        if isinstance(pixels, bool) or not isinstance(pixels, numbers.Integral) or pixels < 0:
            raise ValueError(f"pixels must be a whole number >= 0; got {pixels!r}")
        super().__init__(seed, **kwargs)
        self.pixels = int(pixels)

    def augment(self, images):
        batch, height, width, _ = ops.shape(images)

        def draw():
            return keras.random.randint((batch,), -self.pixels, self.pixels + 1, seed=self.seed_generator)

        rows, cols = shifted_grid(height, width, draw(), draw())
        return resample(images, rows, cols, interpolation="nearest", fill="constant")

    def get_config(self):
        return {**super().get_config(), "pixels": self.pixels}

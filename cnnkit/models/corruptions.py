"""Image corruptions at five severities, for measuring how a model holds up (the corruption sweep).

Each corruption takes a batch (N, H, W, C) of pixels on the 0-255 scale (uint8 or float, any size and
channel count the datasets give) and returns float32 pixels on the same scale, clipped to 0-255.
Their severities' constants are the published benchmarks' own, cited beside each: MNIST-C (Mu & Gilmer
2019, github.com/google-research/mnist-c, `corruptions.py`) for one-channel images, CIFAR-10-C
(Hendrycks & Dietterich 2019, github.com/hendrycks/robustness, `ImageNet-C/create_c/make_cifar_c.py`)
for colour images; the geometric corruptions exist in MNIST-C only and use its constants for both.
Lengths in pixels (blur widths, shifts) are the benchmarks' for 28 x 28 (MNIST-C) and 32 x 32
(CIFAR-10-C) images, scaled by the image's side for other sizes (8 x 8 digits).

All but JPEG are batched keras.ops (TensorFlow and JAX alike). JPEG is Pillow's encoder, image by
image: the benchmarks' JPEG is libjpeg's (through PIL), whose chroma subsampling, quantisation tables
scaled by quality and rounding a DCT approximation would only imitate, and 2,000 small images take
Pillow well under a second. Random corruptions draw from `seed`: the same seed, the same output.
"""

from __future__ import annotations

import io
import math

import keras
import numpy as np
from keras import ops
from PIL import Image

import cnnkit.models.augment as augment

SEVERITIES = (1, 2, 3, 4, 5)
MNIST_C, CIFAR_10_C = "MNIST-C", "CIFAR-10-C"

# name -> (MNIST-C's five values, CIFAR-10-C's five values or None where it has no such corruption)
PARAMETERS: dict[str, tuple[tuple, tuple | None]] = {
    # Gaussian noise: the standard deviation on the 0-1 scale. MNIST-C gaussian_noise; CIFAR-10-C gaussian_noise.
    "gaussian_noise": ((0.08, 0.12, 0.18, 0.26, 0.38), (0.04, 0.06, 0.08, 0.09, 0.10)),
    # Shot noise: photons per unit of brightness (fewer: noisier). MNIST-C shot_noise; CIFAR-10-C shot_noise.
    "shot_noise": ((60, 25, 12, 5, 3), (500, 250, 100, 75, 50)),
    # Impulse (salt-and-pepper) noise: the share of values replaced. MNIST-C impulse_noise; CIFAR-10-C impulse_noise.
    "impulse_noise": ((0.03, 0.06, 0.09, 0.17, 0.27), (0.01, 0.02, 0.03, 0.05, 0.07)),
    # Gaussian blur: sigma in pixels. MNIST-C gaussian_blur; CIFAR-10-C gaussian_blur.
    "gaussian_blur": ((1, 2, 3, 4, 6), (0.4, 0.6, 0.7, 0.8, 1)),
    # Motion blur: ImageMagick's (radius, sigma) in pixels, at an angle uniform in +-45 degrees.
    # MNIST-C motion_blur; CIFAR-10-C motion_blur.
    "motion_blur": (((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)), ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))),
    # Contrast: the factor on each image's distance from its mean. MNIST-C contrast; CIFAR-10-C contrast.
    "contrast": ((0.4, 0.3, 0.2, 0.1, 0.05), (0.75, 0.5, 0.4, 0.3, 0.15)),
    # Brightness: added to HSV's value on the 0-1 scale. MNIST-C brightness; CIFAR-10-C brightness.
    "brightness": ((0.1, 0.2, 0.3, 0.4, 0.5), (0.05, 0.1, 0.15, 0.2, 0.3)),
    # JPEG: the encoder's quality. MNIST-C jpeg_compression; CIFAR-10-C jpeg_compression.
    "jpeg_compression": ((25, 18, 15, 10, 7), (80, 65, 58, 50, 40)),
    # Pixelate: the side's factor of the box-filtered shrink before growing back. MNIST-C pixelate; CIFAR-10-C pixelate.
    "pixelate": ((0.6, 0.5, 0.4, 0.3, 0.25), (0.95, 0.9, 0.85, 0.75, 0.65)),
    # Rotate: radians, either way at random. MNIST-C rotate.
    "rotate": ((0.2, 0.4, 0.6, 0.8, 1.0), None),
    # Translate: pixels along each axis, either way at random. MNIST-C translate.
    "translate": ((1, 2, 3, 4, 5), None),
    # Shear: radians (skimage's AffineTransform(shear=...)), either way at random. MNIST-C shear.
    "shear": ((0.2, 0.4, 0.6, 0.8, 1.0), None),
    # Scale: the inverse map's factor (1/0.9 shows the image at 0.9 of its size). MNIST-C scale.
    "scale": ((1 / 0.9, 1 / 0.8, 1 / 0.7, 1 / 0.6, 1 / 0.5), None),
}
CORRUPTIONS = tuple(PARAMETERS)


def source(name: str, channels: int) -> str:
    """The benchmark whose constants `name` uses on images of `channels` channels."""
    return MNIST_C if channels == 1 or PARAMETERS[name][1] is None else CIFAR_10_C


def parameter(name: str, severity: int, channels: int):
    """The benchmark's constant of `name` at `severity` (1-5) for images of `channels` channels."""
    if name not in PARAMETERS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}; got {name!r}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}; got {severity!r}")
    mnist, cifar = PARAMETERS[name]
    return (mnist if source(name, channels) == MNIST_C else cifar)[severity - 1]


def corrupt(images, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """`images` (N, H, W, C), 0-255, corrupted by `name` at `severity`: float32 (N, H, W, C), 0-255."""
    images = np.asarray(images)
    value = parameter(name, severity, images.shape[-1])
    if name == "jpeg_compression":
        return _jpeg(images, value)
    side = 28 if source(name, images.shape[-1]) == MNIST_C else 32
    pixels = min(images.shape[1], images.shape[2]) / side  # the benchmark's pixel -> this image's pixels
    x = ops.convert_to_tensor(images, "float32") / 255.0
    x = _CORRUPT[name](x, value, pixels, seed)
    return ops.convert_to_numpy(ops.clip(x, 0.0, 1.0) * 255.0).astype("float32")


# ---- the corruptions, on float32 tensors on the 0-1 scale ---------------------------------------

def _gaussian_noise(x, sigma, pixels, seed):
    return x + keras.random.normal(ops.shape(x), stddev=sigma, seed=seed)


def _shot_noise(x, photons, pixels, seed):
    """Poisson(x * photons) / photons, drawn as its normal approximation N(lam, lam) rounded and floored
    at 0 (keras.random has no Poisson): the mean and variance are Poisson's, 0 stays 0."""
    lam = x * photons
    counts = ops.round(lam + ops.sqrt(lam) * keras.random.normal(ops.shape(x), seed=seed))
    return ops.maximum(counts, 0.0) / photons


def _impulse_noise(x, amount, pixels, seed):
    """skimage's random_noise(mode="s&p"): a share `amount` of values set to 0 or 1, half each."""
    draw = keras.random.uniform(ops.shape(x), seed=seed)
    return ops.where(draw < amount / 2, 0.0, ops.where(draw > 1 - amount / 2, 1.0, x))


def _gaussian_blur(x, sigma, pixels, seed):
    return _blur(x, _gaussian_kernel(sigma * pixels))


def _motion_blur(x, radius_sigma, pixels, seed):
    """ImageMagick's MotionBlurImage: 2 * radius + 1 taps along the angle, at whole-pixel offsets, weighted
    by a one-sided Gaussian of `sigma`; pixels beyond the edge repeat it (ImageMagick's edge pixels).
    Every tap of every pixel is read in one gather."""
    radius, sigma = radius_sigma[0] * pixels, max(radius_sigma[1] * pixels, 1e-3)
    taps = np.arange(2 * math.ceil(radius) + 1)
    weights = np.exp(-taps ** 2 / (2 * sigma ** 2))
    batch, height, width, channels = ops.shape(x)
    angles = ops.convert_to_numpy(keras.random.uniform((batch,), -math.pi / 4, math.pi / 4, seed=seed))
    row_offsets = np.rint(taps[:, None] * np.sin(angles)[None]).astype("int32")[..., None, None]  # (taps, N, 1, 1)
    col_offsets = np.rint(taps[:, None] * np.cos(angles)[None]).astype("int32")[..., None, None]
    rows = np.clip(np.arange(height)[:, None] + row_offsets, 0, height - 1)
    cols = np.clip(np.arange(width)[None, :] + col_offsets, 0, width - 1)
    index = ((np.arange(batch)[:, None, None] * height + rows) * width + cols).astype("int32")  # (taps, N, H, W)
    pixels_read = ops.take(ops.reshape(x, (-1, channels)), index, axis=0)  # (taps, N, H, W, C)
    return ops.einsum("t,tnhwc->nhwc", (weights / weights.sum()).astype("float32"), pixels_read)


def _contrast(x, factor, pixels, seed):
    means = ops.mean(x, axis=(1, 2), keepdims=True)
    return (x - means) * factor + means


def _brightness(x, amount, pixels, seed):
    """HSV's value raised by `amount`, hue and saturation kept: each pixel's channels scaled by
    new value / value (a black pixel turns grey); on one channel simply x + amount."""
    value = ops.max(x, axis=-1, keepdims=True)
    raised = ops.minimum(value + amount, 1.0)
    return ops.where(value > 0, x * raised / ops.maximum(value, 1e-12), raised)


def _pixelate(x, factor, pixels, seed):
    """Shrunk to int(side * factor) with a box filter and grown back with one (PIL's BOX both ways), as
    area-weighted averages: one matrix per axis."""
    _, height, width, _ = ops.shape(x)
    rows = _box_resize(int(height * factor), height)
    cols = _box_resize(int(width * factor), width)
    small = ops.einsum("ph,nhwc,qw->npqc", rows, x, cols)
    return ops.einsum("hp,npqc,wq->nhwc", _box_resize(height, rows.shape[0]), small, _box_resize(width, cols.shape[0]))


def _rotate(x, angle, pixels, seed):
    """skimage's warp with AffineTransform(rotation=angle) about the centre, turned either way at random."""
    angle = _either_way(ops.shape(x)[0], seed) * angle
    cos, sin = ops.cos(angle), ops.sin(angle)
    return _warp(x, cos, -sin, sin, cos)


def _translate(x, shift, pixels, seed):
    """MNIST-C's translate: the image moved `shift` pixels along each axis, each way at random."""
    batch = ops.shape(x)[0]
    steps = shift * pixels
    return _warp(x, 1.0, 0.0, 0.0, 1.0, steps * _either_way(batch, seed), steps * _either_way(batch, seed + 1))


def _shear(x, shear, pixels, seed):
    """skimage's AffineTransform(shear=shear), the centre kept fixed, either way at random."""
    shear = _either_way(ops.shape(x)[0], seed) * shear
    return _warp(x, 1.0, -ops.sin(shear), 0.0, ops.cos(shear))


def _scale(x, factor, pixels, seed):
    """skimage's AffineTransform(scale=(factor, factor)) as the inverse map: the image shrinks to 1/factor."""
    return _warp(x, factor, 0.0, 0.0, factor)


_CORRUPT = {"gaussian_noise": _gaussian_noise, "shot_noise": _shot_noise, "impulse_noise": _impulse_noise,
            "gaussian_blur": _gaussian_blur, "motion_blur": _motion_blur, "contrast": _contrast,
            "brightness": _brightness, "pixelate": _pixelate, "rotate": _rotate, "translate": _translate,
            "shear": _shear, "scale": _scale}


# ---- helpers ----------------------------------------------------------------------------------

def _jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    """Each image through Pillow's JPEG encoder at `quality` and back (grey, RGB, else channel by channel)."""
    pixels = np.clip(np.rint(images.astype("float32")), 0, 255).astype(np.uint8)

    def round_trip(image: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=quality)
        return np.asarray(Image.open(buffer))

    out = np.empty(pixels.shape, np.float32)
    for index, image in enumerate(pixels):
        if image.shape[-1] in (1, 3):
            out[index] = round_trip(image.squeeze(-1) if image.shape[-1] == 1 else image).reshape(image.shape)
        else:
            out[index] = np.stack([round_trip(image[..., c]) for c in range(image.shape[-1])], axis=-1)
    return out


def _gaussian_kernel(sigma: float) -> np.ndarray:
    """skimage.filters.gaussian's 1-D kernel: radius int(4 sigma + 0.5), normalised."""
    radius = max(int(4 * sigma + 0.5), 1)
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-taps ** 2 / (2 * sigma ** 2))
    return (kernel / kernel.sum()).astype("float32")


def _blur(x, kernel: np.ndarray):
    """`x` convolved with `kernel` along rows then columns, each channel alone; beyond the edge the kernel
    is renormalised over the pixels inside (close to skimage's edge-repeating "nearest" on dark borders)."""
    channels = ops.shape(x)[-1]
    size = len(kernel)
    along_rows = np.tile(kernel.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    along_cols = np.tile(kernel.reshape(1, size, 1, 1), (1, 1, channels, 1))

    def blurred(images):
        images = ops.depthwise_conv(images, along_rows, padding="same")
        return ops.depthwise_conv(images, along_cols, padding="same")

    return blurred(x) / blurred(ops.ones_like(x[:1]))


def _box_resize(size: int, from_size: int) -> np.ndarray:
    """(size, from_size): each output pixel the area-weighted mean of the input pixels its span covers."""
    size = max(size, 1)
    edges = np.linspace(0, from_size, size + 1)
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(from_size)[None]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype("float32")


def _either_way(batch: int, seed: int):
    """Per image, -1 or 1 at random (the benchmarks' random direction)."""
    return ops.where(keras.random.uniform((batch,), seed=seed) < 0.5, -1.0, 1.0)


def _warp(x, a, b, c, d, col_shift=0.0, row_shift=0.0):
    """skimage's warp(x, inverse_map) for the affine map about the image's centre: output pixel p = (col, row)
    reads the input at centre + [[a, b], [c, d]] (p - centre) + (col_shift, row_shift), bilinearly, 0 outside.
    The parameters are numbers or per-image (N,) tensors."""
    _, height, width, _ = ops.shape(x)
    rows, cols = augment.shifted_grid(height, width, 0.0, 0.0)
    centre_row, centre_col = (height - 1) / 2, (width - 1) / 2
    d_row, d_col = rows - centre_row, cols - centre_col

    def per_image(value):
        return ops.reshape(ops.cast(value, "float32"), (-1, 1, 1))

    a, b, c, d = (per_image(value) for value in (a, b, c, d))
    source_cols = centre_col + a * d_col + b * d_row + per_image(col_shift)
    source_rows = centre_row + c * d_col + d * d_row + per_image(row_shift)
    return augment.resample(x, source_rows, source_cols, interpolation="bilinear", fill="constant")

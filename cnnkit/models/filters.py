"""Fixed image filters: the kernels of the Kernels page and the pre-filter input layer, and the
per-image standardisation layer. Both layers are registered under cnnkit's names, so saved models
load with them."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops
from scipy import ndimage

from cnnkit.errors import InputError

SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype="float32")
GAUSSIAN_BLUR = np.outer([1, 2, 1], [1, 2, 1]).astype("float32") / 16  # cv2.GaussianBlur((3, 3), 0)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32")
SOBEL_Y = SOBEL_X.T.copy()

PREFILTER_DESCRIPTIONS = {
    "none": "No pre-filter.",
    "sharpen": "Sharpen with the 3x3 kernel [[0,-1,0],[-1,5,-1],[0,-1,0]] (seed 003).",
    "blur": "3x3 Gaussian blur, as cv2.GaussianBlur(img, (3, 3), 0).",
    "edges": "Blur, then Sobel gradient magnitude: bright where intensity changes.",
    "blur_sharpen": "Blur, then sharpen (seed 003, section 3.6).",
}


def convolve3x3(images, kernel: np.ndarray):
    """Apply one 3x3 kernel to every channel, borders reflected (OpenCV's default)."""
    channels = images.shape[-1]
    depthwise = np.repeat(np.asarray(kernel, "float32")[:, :, None, None], channels, axis=2)
    padded = ops.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
    return ops.depthwise_conv(padded, depthwise, strides=1, padding="valid")


def apply_prefilter(images, kind: str):
    """Filter a float batch (N, H, W, C) of 0-255 pixels; results stay in 0-255."""
    if kind == "none":
        return images
    if kind == "sharpen":
        filtered = convolve3x3(images, SHARPEN)
    elif kind == "blur":
        filtered = convolve3x3(images, GAUSSIAN_BLUR)
    elif kind == "blur_sharpen":
        filtered = convolve3x3(convolve3x3(images, GAUSSIAN_BLUR), SHARPEN)
    elif kind == "edges":
        blurred = convolve3x3(images, GAUSSIAN_BLUR)
        filtered = ops.sqrt(ops.square(convolve3x3(blurred, SOBEL_X)) + ops.square(convolve3x3(blurred, SOBEL_Y)))
    else:
        raise ValueError(f"unknown pre-filter {kind!r}")
    return ops.clip(filtered, 0.0, 255.0)


def filter_image(image: np.ndarray, kind: str = "none", kernel: np.ndarray | None = None) -> np.ndarray:
    """Filter one uint8 image (H, W, C) with a named pre-filter or a custom 3x3 kernel."""
    batch = ops.convert_to_tensor(image[None].astype("float32"))
    result = ops.clip(convolve3x3(batch, kernel), 0, 255) if kernel is not None else apply_prefilter(batch, kind)
    return np.rint(ops.convert_to_numpy(result)[0]).astype("uint8")


# Neighbour offsets (row, column) along the gradient for the four quantised directions
# 0°, 45°, 90°, 135° (rows grow downwards, as Sobel's y gradient does).
_NMS_OFFSETS = ((0, 1), (1, 1), (1, 0), (1, -1))
_ROUNDING_GRADIENT = 0.01  # Sobel magnitudes (0-255 pixels) this small are float rounding, not edges


def canny_edges(image: np.ndarray, sigma: float = 1.0, low: float = 0.1, high: float = 0.2) -> np.ndarray:
    """Canny edges of one image (H, W, C), uint8 or float 0-255, laid out like `filter_image`'s result:
    uint8 (H, W, C), 255 on an edge and 0 elsewhere.

    Grey, Gaussian blur (`sigma` pixels), the pre-filters' Sobel kernels, non-maximum suppression
    along the gradient, then hysteresis: pixels above `high` (a fraction of the strongest gradient)
    are edges, and pixels above `low` are edges only when 8-connected to one of those.
    """
    _check_canny_parameters(sigma, low, high)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] < 1:
        raise InputError(f"Canny needs one image as height × width × channels; got shape {image.shape}.")
    pixels = image.astype("float32")
    grey = pixels @ np.array([0.299, 0.587, 0.114], "float32") if image.shape[-1] == 3 else pixels.mean(axis=-1)
    smooth = ndimage.gaussian_filter(grey, sigma, mode="mirror")  # "mirror" is convolve3x3's reflect
    batch = ops.convert_to_tensor(smooth[None, :, :, None])
    gx, gy = (ops.convert_to_numpy(convolve3x3(batch, kernel))[0, :, :, 0] for kernel in (SOBEL_X, SOBEL_Y))
    magnitude = np.hypot(gx, gy)
    thin = _non_maximum_suppression(magnitude, np.degrees(np.arctan2(gy, gx)) % 180)
    strongest = float(magnitude.max())
    candidates = (thin > _ROUNDING_GRADIENT) & (thin >= low * strongest)
    regions, _ = ndimage.label(candidates, structure=np.ones((3, 3)))
    strong_regions = np.unique(regions[candidates & (thin >= high * strongest)])
    edges = np.isin(regions, strong_regions) & candidates
    return np.repeat(np.where(edges, 255, 0).astype("uint8")[..., None], image.shape[-1], axis=-1)


def _check_canny_parameters(sigma: float, low: float, high: float) -> None:
    if not (math.isfinite(sigma) and sigma > 0):
        raise InputError(f"Canny's sigma (the blur's width in pixels) must be above 0; got {sigma}.", field="sigma")
    for name, value in (("low", low), ("high", high)):
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise InputError(
                f"Canny's {name} threshold is a fraction of the strongest gradient, between 0 and 1; got {value}.",
                field=name,
            )
    if low > high:
        raise InputError(f"Canny's low threshold ({low}) must not be above the high threshold ({high}).", field="low")


def _non_maximum_suppression(magnitude: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Keep each gradient magnitude only where it peaks across the edge (`angle` in degrees, 0-180).

    Of two tied neighbours (to within rounding) only the one at the `_NMS_OFFSETS` side (right,
    below) stays, so a symmetric edge is 1 px wide rather than 2.
    """
    direction = np.rint(angle / 45).astype(int) % 4
    tie = 1e-4 * float(magnitude.max())
    height, width = magnitude.shape
    padded = np.pad(magnitude, 1)
    thin = np.zeros_like(magnitude)
    for index, (dy, dx) in enumerate(_NMS_OFFSETS):
        ahead = padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        behind = padded[1 - dy : 1 - dy + height, 1 - dx : 1 - dx + width]
        peak = (direction == index) & (magnitude > ahead + tie) & (magnitude >= behind - tie)
        thin[peak] = magnitude[peak]
    return thin


@keras.saving.register_keras_serializable(package="cnnkit")
class KernelFilter(layers.Layer):
    """A fixed (untrained) image filter applied to the raw input pixels."""

    def __init__(self, kind: str, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, inputs):
        return apply_prefilter(inputs, self.kind)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package="cnnkit")
class PerImageStandardization(layers.Layer):
    """Centre each image on zero and scale it to unit standard deviation (seed 000's
    ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True))."""

    def call(self, inputs):
        mean = ops.mean(inputs, axis=(1, 2, 3), keepdims=True)
        std = ops.std(inputs, axis=(1, 2, 3), keepdims=True)
        return (inputs - mean) / (std + 1e-7)

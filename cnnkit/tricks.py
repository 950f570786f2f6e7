"""Training tricks: input layers (normalisation, kernel pre-filters, augmentation),
optimizers, learning-rate schedules and the learning-rate range test's suggestion.

Everything that touches pixels is a Keras layer inside the model, so a saved model takes
raw 0-255 images and the same code serves training, prediction and the kernel playground.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops
from scipy import ndimage

from cnnkit.augment import RandomAffine, RandomFlip, RandomShift
from cnnkit.config import TrainConfig
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


def input_layers(cfg: TrainConfig, input_shape: tuple[int, int, int]) -> list[layers.Layer]:
    """The layers between the raw image and the network: pre-filter, augmentation, normalisation.

    Augmentation layers are active only in training, so evaluation and prediction see clean images.
    """
    stack: list[layers.Layer] = []
    if cfg.prefilter != "none":
        stack.append(KernelFilter(cfg.prefilter, name=f"prefilter_{cfg.prefilter}"))
    stack += augmentation_layers(cfg)
    if cfg.normalization == "scale":
        stack.append(layers.Rescaling(1 / 255, name="scale_0_1"))
    elif cfg.normalization == "standardize":
        stack.append(PerImageStandardization(name="standardize"))
    return stack


def augmentation_layers(cfg: TrainConfig) -> list[layers.Layer]:
    """The `cnnkit.augment` layers for the augmentations the config asks for, seeded by it:
    flips, then rotation, zoom and translation in one resampling, then pad-and-crop."""
    stack: list[layers.Layer] = []
    if cfg.flip != "none":
        stack.append(RandomFlip(cfg.flip, seed=cfg.seed, name="aug_flip"))
    if cfg.rotation or cfg.zoom or cfg.translate:
        stack.append(RandomAffine(cfg.rotation, cfg.zoom, cfg.translate, seed=cfg.seed + 1, name="aug_geometry"))
    if cfg.pad_crop:
        stack.append(RandomShift(cfg.pad_crop, seed=cfg.seed + 4, name="aug_pad_crop"))
    return stack


# ---- learning-rate schedules ----------------------------------------------------------


@keras.saving.register_keras_serializable(package="cnnkit")
class CyclicLR(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical learning rates (Smith 2015, arXiv:1506.01186): triangular, triangular2, exp_range.

    `step_size` is half a cycle, in optimizer steps.
    """

    def __init__(self, base_lr: float, max_lr: float, step_size: float, mode: str = "triangular", gamma: float = 1.0):
        self.base_lr, self.max_lr, self.step_size, self.mode, self.gamma = base_lr, max_lr, step_size, mode, gamma

    def __call__(self, step):
        step = ops.cast(step, "float32")
        cycle = ops.floor(1 + step / (2 * self.step_size))
        x = ops.abs(step / self.step_size - 2 * cycle + 1)
        if self.mode == "triangular2":
            scale = 1 / ops.power(2.0, cycle - 1)
        elif self.mode == "exp_range":
            scale = ops.power(self.gamma, step)
        else:
            scale = 1.0
        return self.base_lr + (self.max_lr - self.base_lr) * ops.maximum(0.0, 1 - x) * scale

    def get_config(self):
        return {k: getattr(self, k) for k in ("base_lr", "max_lr", "step_size", "mode", "gamma")}


@keras.saving.register_keras_serializable(package="cnnkit")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle policy: cosine warm-up from `start_lr` to `max_lr` over `warmup` of the steps,
    then cosine annealing down to `final_lr`."""

    def __init__(self, start_lr: float, max_lr: float, final_lr: float, total_steps: int, warmup: float = 0.3):
        self.start_lr, self.max_lr, self.final_lr = start_lr, max_lr, final_lr
        self.total_steps, self.warmup = total_steps, warmup

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup_steps = max(1.0, self.warmup * self.total_steps)
        anneal_steps = max(1.0, self.total_steps - warmup_steps)
        rising = ops.clip(step / warmup_steps, 0, 1)
        falling = ops.clip((step - warmup_steps) / anneal_steps, 0, 1)
        up = self.start_lr + (self.max_lr - self.start_lr) * (1 - ops.cos(math.pi * rising)) / 2
        down = self.final_lr + (self.max_lr - self.final_lr) * (1 + ops.cos(math.pi * falling)) / 2
        return ops.where(step < warmup_steps, up, down)

    def get_config(self):
        return {k: getattr(self, k) for k in ("start_lr", "max_lr", "final_lr", "total_steps", "warmup")}


@keras.saving.register_keras_serializable(package="cnnkit")
class ExponentialRamp(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate growing geometrically from `start_lr` to `end_lr` over `steps` (the LR range test)."""

    def __init__(self, start_lr: float, end_lr: float, steps: int):
        self.start_lr, self.end_lr, self.steps = start_lr, end_lr, steps

    def __call__(self, step):
        fraction = ops.cast(step, "float32") / max(1, self.steps - 1)
        return self.start_lr * ops.power(self.end_lr / self.start_lr, fraction)

    def get_config(self):
        return {"start_lr": self.start_lr, "end_lr": self.end_lr, "steps": self.steps}


PER_STEP_SCHEDULES = ("cyclic", "one_cycle", "cosine")  # the rate moves every step; the others only between epochs


def learning_rate(cfg: TrainConfig, steps_per_epoch: int):
    """A float for constant and plateau schedules (the plateau callback changes it), else a schedule."""
    total_steps = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "cyclic":
        return CyclicLR(cfg.learning_rate, cfg.max_lr, cfg.cycle_epochs * steps_per_epoch, cfg.cyclic_mode, cfg.cyclic_gamma)
    if cfg.schedule == "one_cycle":
        return OneCycle(cfg.learning_rate, cfg.max_lr, min(cfg.min_lr, cfg.learning_rate), total_steps)
    if cfg.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, total_steps, alpha=cfg.min_lr / cfg.learning_rate)
    return cfg.learning_rate


def schedule_preview(cfg: TrainConfig, steps_per_epoch: int) -> np.ndarray:
    """Learning rate at every planned step (plateau is shown at its starting value: it reacts to data)."""
    steps = np.arange(max(1, cfg.epochs * steps_per_epoch))
    schedule = learning_rate(cfg, steps_per_epoch)
    if isinstance(schedule, float):
        return np.full(steps.shape, schedule, dtype="float64")
    return np.asarray(ops.convert_to_numpy(schedule(ops.convert_to_tensor(steps))), dtype="float64")


def make_optimizer(cfg: TrainConfig, steps_per_epoch: int, rate=None) -> keras.optimizers.Optimizer:
    rate = learning_rate(cfg, steps_per_epoch) if rate is None else rate
    # With EMA on, fit ends by swapping the averaged weights in (Keras' finalize_variable_values).
    ema = {"use_ema": True, "ema_momentum": cfg.ema_momentum} if cfg.ema_momentum else {}
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=cfg.momentum, **ema)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(rate, **ema)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=cfg.weight_decay, **ema)
    return keras.optimizers.Adam(rate, **ema)


# ---- learning-rate range test ---------------------------------------------------------


@dataclass(frozen=True)
class LRSuggestion:
    """Where the range test says to train: `steepest` is where the loss falls fastest; [lower, upper]
    is a range for cyclic schedules and always contains `steepest` (lower <= steepest <= upper)."""

    steepest: float
    lower: float
    upper: float


def smooth(values: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average."""
    averaged, out = 0.0, np.empty(len(values))
    for i, value in enumerate(values):
        averaged = beta * averaged + (1 - beta) * value
        out[i] = averaged / (1 - beta ** (i + 1))
    return out


def suggest_lr_range(lrs: np.ndarray, losses: np.ndarray) -> LRSuggestion:
    """The steepest descent of the smoothed loss before its minimum, and a range around it: upper is
    a tenth of the minimum's rate (or the steepest point when that lies higher, as when the loss
    falls fastest just before it turns), lower a third of upper (or the steepest point when lower)."""
    lrs, smoothed = np.asarray(lrs, float), smooth(np.asarray(losses, float))
    finite = np.isfinite(smoothed)
    lrs, smoothed = lrs[finite], smoothed[finite]
    if len(lrs) < 3:
        raise ValueError("the range test produced too few finite losses to suggest a learning rate")
    best = int(np.argmin(smoothed))
    slopes = np.gradient(smoothed[: best + 1], np.log10(lrs[: best + 1])) if best >= 2 else np.array([0.0])
    steepest = float(lrs[int(np.argmin(slopes))])
    upper = max(float(lrs[best] / 10), steepest)
    return LRSuggestion(steepest=steepest, lower=min(steepest, upper / 3), upper=upper)


def augment_samples(cfg: TrainConfig, images: np.ndarray, copies: int = 4) -> np.ndarray:
    """`copies` augmented versions of each image (pre-filter and augmentation as in training,
    without normalisation), laid out image by image: shape (len(images) * (copies + 1), H, W, C)
    with each original first. Seeded by the config, so the preview is stable."""
    shape = tuple(images.shape[1:])
    stack = [layer for layer in input_layers(cfg.replace(normalization="none"), shape)]
    rows = []
    for image in images.astype("float32"):
        batch = np.repeat(image[None], copies, axis=0)
        for layer in stack:
            batch = layer(batch, training=True)
        rows += [image, *np.clip(ops.convert_to_numpy(batch), 0, 255)]
    return np.rint(np.stack(rows)).astype("uint8")

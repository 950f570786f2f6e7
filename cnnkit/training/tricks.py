"""Training tricks from a config: the input layers (pre-filter, augmentation, normalisation), the
learning rate and its schedule, the optimizer.

Everything that touches pixels is a Keras layer inside the model, so a saved model takes
raw 0-255 images and the same code serves training, prediction and the kernel playground.
"""

from __future__ import annotations


import keras
import numpy as np
from keras import layers, ops

from cnnkit.models import KernelFilter, PerImageStandardization, RandomAffine, RandomFlip, RandomShift
from cnnkit.config import TrainConfig
from cnnkit.models import CyclicLR, OneCycle

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
    """The `cnnkit.models.augment` layers for the augmentations the config asks for, seeded by it:
    flips, then rotation, zoom and translation in one resampling, then pad-and-crop."""
    stack: list[layers.Layer] = []
    if cfg.flip != "none":
        stack.append(RandomFlip(cfg.flip, seed=cfg.seed, name="aug_flip"))
    if cfg.rotation or cfg.zoom or cfg.translate:
        stack.append(RandomAffine(cfg.rotation, cfg.zoom, cfg.translate, seed=cfg.seed + 1, name="aug_geometry"))
    if cfg.pad_crop:
        stack.append(RandomShift(cfg.pad_crop, seed=cfg.seed + 4, name="aug_pad_crop"))
    return stack


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

"""Learning-rate schedules (registered under cnnkit's names, so saved optimizers load) and the
learning-rate range test's suggestion."""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

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

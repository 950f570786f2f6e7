"""The learning rate a run trains with, read from the optimizer or from the schedule's table."""

from __future__ import annotations

import keras

from cnnkit.config import TrainConfig
from cnnkit.training.tricks import PER_STEP_SCHEDULES, schedule_preview


def current_lr(model: keras.Model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class RatePlan:
    """The learning rate at any optimizer step, without asking the device: a per-step schedule
    is tabulated once up front, and a constant or plateau rate (the plateau callback changes
    it only between epochs) is read once at the start of each epoch."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int):
        self.table = schedule_preview(cfg, steps_per_epoch) if cfg.schedule in PER_STEP_SCHEDULES else None
        self.epoch_rate = cfg.learning_rate

    def start_epoch(self, model: keras.Model) -> None:
        if self.table is None:
            self.epoch_rate = current_lr(model)

    def at(self, step: int) -> float:
        """The rate optimizer step `step` (0-based) trains with."""
        return self.epoch_rate if self.table is None else float(self.table[min(step, len(self.table) - 1)])

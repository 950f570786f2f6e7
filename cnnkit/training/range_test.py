"""The learning-rate range test: a short run whose rate grows step by step, and the range it suggests."""

from __future__ import annotations

import math
import threading

import keras
import numpy as np

from cnnkit.config import TrainConfig, load_data
from cnnkit.datasets import Dataset
from cnnkit.models import ExponentialRamp, suggest_lr_range
from cnnkit.training.callbacks.batch_loss import BatchLoss
from cnnkit.training.callbacks.rate_plan import current_lr
from cnnkit.training.network import build, compile_model, one_hot
from cnnkit.training.progress import RangeTest, check_cancel
from cnnkit.training.seeding import ShuffledBatches


class _RangeRecorder(keras.callbacks.Callback):
    """Records (lr, batch loss) and stops at the step budget or when the loss explodes."""

    def __init__(self, n_train: int, batch_size: int, steps: int, cancel: threading.Event):
        super().__init__()
        self.batch_loss, self.steps, self.cancel = BatchLoss(n_train, batch_size), steps, cancel
        self.lrs: list[float] = []
        self.losses: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.batch_loss.reset()

    def on_train_batch_begin(self, batch, logs=None):
        self.lr = current_lr(self.model)

    def on_train_batch_end(self, batch, logs=None):
        check_cancel(self.cancel)
        loss = self.batch_loss.update(batch, float(logs["loss"]))
        self.lrs.append(self.lr)
        self.losses.append(loss)
        diverged = not math.isfinite(loss) or (len(self.losses) > 10 and loss > 4 * min(self.losses))
        if len(self.losses) >= self.steps or diverged:
            raise _RangeDone()


class _RangeDone(Exception):
    pass


def lr_range_test(
    cfg: TrainConfig, *, start_lr: float = 1e-6, end_lr: float = 1.0, steps: int = 100,
    cancel: threading.Event | None = None, data: Dataset | None = None,
) -> RangeTest:
    """Smith's learning-rate range test: train briefly while the rate grows geometrically from
    `start_lr` to `end_lr`, recording the loss of each batch."""
    data = data or load_data(cfg)
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    model = build(cfg, data.input_shape, data.num_classes)
    # One step per execution: the recorder must see, and may stop at, every step.
    compile_model(model, cfg.replace(steps_per_execution=1), steps_per_epoch, rate=ExponentialRamp(start_lr, end_lr, steps))
    batches = ShuffledBatches(data.x_train, one_hot(data.y_train, data.num_classes), cfg.batch_size, cfg.seed)
    recorder = _RangeRecorder(len(data.x_train), cfg.batch_size, steps, cancel or threading.Event())
    try:
        model.fit(batches, epochs=math.ceil(steps / steps_per_epoch), shuffle=False, verbose=0,
                  callbacks=[batches.orderer(), recorder])
    except _RangeDone:
        pass
    lrs, losses = np.array(recorder.lrs), np.array(recorder.losses)
    return RangeTest(lrs, losses, suggest_lr_range(lrs, losses))

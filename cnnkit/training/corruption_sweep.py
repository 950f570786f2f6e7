"""The corruption sweep: a finished run's model on its first test images, clean and under every
corruption at every severity (`models.corruptions`), logged on the run as metrics and a table."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from cnnkit import tracking
from cnnkit.errors import InputError
from cnnkit.models import corruptions
from cnnkit.tracking import run_schema
from cnnkit.training.progress import Progress, RunResult, check_cancel

SWEEP_IMAGES = 2000  # test images swept unless told otherwise
BATCH_SIZE = 500  # images corrupted and predicted at once; a stop request is heard between batches
PHASE = "corruption sweep"


@dataclass(frozen=True)
class SweepResult:
    clean_accuracy: float
    table: pd.DataFrame  # columns tracking's SWEEP_COLUMNS: corruption, severity, parameter, benchmark, accuracy
    images: int

    @property
    def mean_accuracy(self) -> float:
        """Mean corruption accuracy (mCA): over every corruption and severity alike."""
        return float(self.table["accuracy"].mean())

    @property
    def drop(self) -> float:
        """How much accuracy the corruptions cost on average: clean accuracy - mCA."""
        return self.clean_accuracy - self.mean_accuracy

    def metrics(self) -> dict[str, float]:
        """The sweep as the run's metrics (names from `run_schema`)."""
        return {
            run_schema.CORRUPTION_CLEAN_ACCURACY: self.clean_accuracy,
            run_schema.CORRUPTION_MEAN_ACCURACY: self.mean_accuracy,
            run_schema.CORRUPTION_DROP: self.drop,
            run_schema.CORRUPTION_IMAGES: self.images,
            **{run_schema.corruption_accuracy(row.corruption, row.severity): row.accuracy
               for row in self.table.itertuples()},
        }


def sweep_model(model, images: np.ndarray, labels: np.ndarray, *, names: tuple[str, ...] = corruptions.CORRUPTIONS,
                seed: int = 0, cancel: threading.Event | None = None,
                on_batch: Callable[[int, int, str], None] | None = None) -> SweepResult:
    """`model`'s accuracy on `images` (N, H, W, C, 0-255) as they are and under each of `names` at each
    severity, BATCH_SIZE images at a time (noise drawn from `seed`, batch by batch). `on_batch(done,
    total, what)` hears each batch done; a set `cancel` raises Cancelled before the next."""
    cancel = cancel or threading.Event()
    starts = range(0, len(images), BATCH_SIZE)
    steps = [(None, 0)] + [(name, severity) for name in names for severity in corruptions.SEVERITIES]
    total, done = len(steps) * len(starts), 0
    accuracies = []
    for name, severity in steps:
        correct = 0
        for batch, start in enumerate(starts):
            check_cancel(cancel)
            x = images[start:start + BATCH_SIZE]
            if name is not None:
                x = corruptions.corrupt(x, name, severity, seed=seed * 100_003 + batch)
            predicted = np.argmax(model.predict_on_batch(np.asarray(x, "float32")), axis=-1)
            correct += int(np.sum(predicted == labels[start:start + BATCH_SIZE]))
            done += 1
            if on_batch:
                on_batch(done, total, "clean images" if name is None else f"{name}, severity {severity}")
        accuracies.append(correct / len(images))
    channels = images.shape[-1]
    table = pd.DataFrame(
        [(name, severity, corruptions.parameter(name, severity, channels), corruptions.source(name, channels), accuracy)
         for (name, severity), accuracy in zip(steps[1:], accuracies[1:])],
        columns=["corruption", "severity", "parameter", "benchmark", "accuracy"])
    return SweepResult(accuracies[0], table, len(images))


def sweep_run(run_id: str, tracking_uri: str | None = None, *, images: int | None = None, seed: int = 0,
                     cancel: threading.Event | None = None,
                     on_progress: Callable[[Progress], None] | None = None) -> RunResult:
    """Sweep finished run `run_id`'s model (its SHA-256 checked) on the first `images` images of its test
    split (None: SWEEP_IMAGES; loaded again as the run split it) and log the result on the run (`RunStore.log_corruption_sweep`).
    Returns the run as FINISHED with the sweep's metrics; raises Cancelled when stopped (nothing logged),
    InputError when the run has no model or its data can't be loaded."""
    images = SWEEP_IMAGES if images is None else images
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise InputError(f"Images: how many test images to corrupt must be a whole number of at least 1, got {images!r}.")
    store = tracking.RunStore(tracking_uri)
    report = on_progress or (lambda progress: None)
    began = time.monotonic()
    report(Progress(phase=f"{PHASE}: loading the model and the test images"))
    model = store.load_model(run_id)
    data = store.test_split_of_run(run_id)
    x, y = data.x_test[:images], data.y_test[:images]

    def on_batch(done: int, total: int, what: str) -> None:
        elapsed = time.monotonic() - began
        report(Progress(phase=f"{PHASE}: {what}", epoch=1, epochs=1, batch=done, batches=total, elapsed_s=elapsed,
                        eta_s=elapsed / done * (total - done), event="pass"))

    result = sweep_model(model, x, y, seed=seed, cancel=cancel, on_batch=on_batch)
    store.log_corruption_sweep(run_id, result.metrics(), result.table)
    return RunResult(run_id, "FINISHED", result.metrics())

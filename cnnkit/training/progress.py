"""The plain values a run reports and is stopped by: where it is (Progress), how it ended (RunResult,
or a range test's RangeTest), and the request to stop it (StopRequest; fit answers it with Cancelled).

Nothing here imports Keras, a backend or MLflow: job runners, workers and pages read these anywhere."""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from cnnkit.models import LRSuggestion


@dataclass(frozen=True)
class Progress:
    """A snapshot of where a run is, for progress bars and live views."""

    phase: str  # loading data, building model, training, validating, snapshotting, evaluating, saving, finished, ...
    epoch: int = 0  # 1-based epoch in progress
    epochs: int = 0
    batch: int = 0  # batches done in this epoch
    batches: int = 0  # batches per epoch
    elapsed_s: float = 0.0
    eta_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # this batch's or this epoch's values
    event: str = "phase"  # "batch" for new batch losses, "epoch" after each epoch, "pass" within a pass, else "phase"
    step: int = 0  # optimizer steps done so far
    batch_points: tuple[tuple[int, float, float], ...] = ()  # "batch" events: (step, batch_loss, batch_lr) since the last
    device: str = ""  # what the run trains on, once the model is built, e.g. "GPU: NVIDIA H200" or "CPU (2 cores)"
    pass_batch: int = 0  # validating / evaluating: batches of that pass done
    pass_batches: int = 0  # ... of this many (0 outside such a pass)
    pass_images: int = 0  # images the pass goes through

    @property
    def fraction(self) -> float:
        total = self.epochs * self.batches
        return 0.0 if not total else min(1.0, ((self.epoch - 1) * self.batches + self.batch) / total)

    @property
    def pass_fraction(self) -> float:
        """How far a validation or evaluation pass has got, 0..1 (0 outside one)."""
        return min(1.0, self.pass_batch / self.pass_batches) if self.pass_batches else 0.0

    def describe(self) -> str:
        """Where the run is, in a few words for a person."""
        if self.phase == "training" and self.epochs:
            return f"epoch {self.epoch}/{self.epochs} · batch {self.batch}/{self.batches}"
        if self.phase == "validating":
            return (f"validating on {self.pass_images:,} images after epoch {self.epoch}/{self.epochs} · "
                    f"batch {self.pass_batch}/{self.pass_batches}")
        if self.phase == "evaluating" and self.pass_batches:
            return f"evaluating on {self.pass_images:,} test images · batch {self.pass_batch}/{self.pass_batches}"
        if self.phase == "snapshotting":
            return (f"snapshot after epoch {self.epoch}/{self.epochs}: predicting {self.pass_images:,} test images · "
                    f"batch {self.pass_batch}/{self.pass_batches}")
        return self.phase

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Progress:
        values = json.loads(text)
        return cls(**{**values, "batch_points": tuple(tuple(point) for point in values.get("batch_points", ()))})



ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str  # FINISHED, FAILED or KILLED
    metrics: dict[str, float]
    error: str | None = None


@dataclass(frozen=True)
class RangeTest:
    learning_rates: np.ndarray
    losses: np.ndarray
    suggestion: LRSuggestion


class Cancelled(Exception):
    """Raised inside fit by the cancel check, so training stops within one batch."""


USER_CANCEL = "Cancelled by the user."


class StopRequest(threading.Event):
    """A cancel event that says why: its `reason` becomes the note of the run that ends KILLED.
    `train` also takes a plain Event, which stands for a person's cancel."""

    def __init__(self):
        super().__init__()
        self.reason = USER_CANCEL

    def stop(self, reason: str = USER_CANCEL) -> None:
        """Ask the run to stop; the first reason given is kept."""
        if not self.is_set():
            self.reason = reason
        self.set()



def check_cancel(cancel: threading.Event) -> None:
    """Raise Cancelled once `cancel` is set (between the steps of a run)."""
    if cancel.is_set():
        raise Cancelled()

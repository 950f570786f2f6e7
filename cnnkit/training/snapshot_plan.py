"""Which epochs a run with `snapshot_every` keeps a snapshot of, and the disk that takes.

A snapshot is the model with its optimizer's state (a `.keras` file) and the test images' class
probabilities in float16. Pure arithmetic: the Train form shows the budget before a run starts,
and `epoch_snapshots.EpochSnapshots` asks `is_snapshot_epoch` after every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnkit.config import TrainConfig

BYTES_PER_WEIGHT = 4  # float32 weights and optimizer slots (mixed precision keeps float32 weights too)
BYTES_PER_PROBABILITY = 2  # float16
MODEL_FILE_OVERHEAD = 64 * 1024  # a .keras file's config and zip structure, about


def is_snapshot_epoch(epoch: int, epochs: int, every: int) -> bool:
    """Whether the run keeps a snapshot after `epoch` (1-based) of `epochs`: every `every`-th and the last."""
    return every > 0 and (epoch % every == 0 or epoch == epochs)


def snapshot_epochs(epochs: int, every: int, first: int = 1) -> list[int]:
    """The epochs from `first` to `epochs` a run snapshots (a fork's epochs begin after its parent's)."""
    return [epoch for epoch in range(first, epochs + 1) if is_snapshot_epoch(epoch, epochs, every)]


def optimizer_slots(cfg: TrainConfig) -> int:
    """How many numbers the optimizer keeps per weight: Adam's two moments, SGD's momentum, EMA's average."""
    slots = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 1 if cfg.momentum else 0}[cfg.optimizer]
    return slots + (1 if cfg.ema_momentum else 0)


@dataclass(frozen=True)
class DiskBudget:
    snapshots: int
    model_bytes: int  # one snapshot's model file
    probability_bytes: int  # one snapshot's test probabilities

    @property
    def total_bytes(self) -> int:
        return self.snapshots * (self.model_bytes + self.probability_bytes)

    def describe(self) -> str:
        """One line for the Train form."""
        if not self.snapshots:
            return "Snapshots are off."
        return (f"{self.snapshots} snapshot{'s' * (self.snapshots != 1)} × ({readable_size(self.model_bytes)} model "
                f"+ {readable_size(self.probability_bytes)} test probabilities) ≈ {readable_size(self.total_bytes)} "
                "of disk.")


def disk_budget(cfg: TrainConfig, param_count: int, test_images: int, num_classes: int) -> DiskBudget:
    """About the disk a run of `cfg` keeps in snapshots, for a model of `param_count` weights."""
    model = param_count * BYTES_PER_WEIGHT * (1 + optimizer_slots(cfg)) + MODEL_FILE_OVERHEAD
    return DiskBudget(len(snapshot_epochs(cfg.epochs, cfg.snapshot_every)), model,
                      test_images * num_classes * BYTES_PER_PROBABILITY)


def readable_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")

"""Which epochs a run snapshots and the disk the Train form says that takes."""

import pytest

from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.training.snapshot_plan import disk_budget, optimizer_slots, readable_size, snapshot_epochs


def test_every_kth_epoch_and_the_last():
    assert snapshot_epochs(10, 3) == [3, 6, 9, 10]
    assert snapshot_epochs(6, 3) == [3, 6]
    assert snapshot_epochs(5, 0) == []
    assert snapshot_epochs(4, 1, first=3) == [3, 4]


def test_the_budget_counts_the_model_with_its_optimizer_state_and_the_probabilities():
    cfg = TrainConfig(epochs=10, snapshot_every=3, optimizer="adam")
    budget = disk_budget(cfg, param_count=1000, test_images=360, num_classes=10)
    assert budget.snapshots == 4
    assert budget.model_bytes == 1000 * 4 * 3 + 64 * 1024  # weights, Adam's two moments, the file's structure
    assert budget.probability_bytes == 360 * 10 * 2  # float16
    assert budget.total_bytes == 4 * (budget.model_bytes + budget.probability_bytes)
    assert budget.describe() == "4 snapshots × (75.7 KB model + 7.0 KB test probabilities) ≈ 331.0 KB of disk."
    assert disk_budget(cfg.replace(snapshot_every=0), 1000, 360, 10).describe() == "Snapshots are off."


def test_optimizer_slots_follow_the_optimizer_and_weight_averaging():
    assert optimizer_slots(TrainConfig(optimizer="sgd", momentum=0.0)) == 0
    assert optimizer_slots(TrainConfig(optimizer="sgd", ema_momentum=0.99)) == 2
    assert optimizer_slots(TrainConfig(optimizer="adamw")) == 2
    assert readable_size(3 * 2**30) == "3.0 GB" and readable_size(512) == "512 B"


def test_snapshot_every_is_a_declared_setting_with_its_label():
    assert TrainConfig(snapshot_every=0).snapshot_every == 0
    with pytest.raises(InputError, match="Snapshot every"):
        TrainConfig(snapshot_every=-1)
    assert TrainConfig().with_settings(["snapshot_every=2"]).to_params()["snapshot_every"] == "2"

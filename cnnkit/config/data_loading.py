"""A run's config to its data: the one place a TrainConfig's data settings become a loaded,
split Dataset, for training and for reloading a finished run's test split."""

from __future__ import annotations

from cnnkit.config import TrainConfig
from cnnkit.datasets import Dataset, load_dataset


def load_data(cfg: TrainConfig) -> Dataset:
    return load_dataset(
        cfg.dataset,
        path=cfg.dataset_path or None,
        image_size=cfg.image_size or None,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        seed=cfg.seed,
        train_limit=cfg.train_limit or None,
    )

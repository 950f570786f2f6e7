"""A run's config to its data: the one place a TrainConfig's data settings become a loaded,
split Dataset, for training and for reloading a finished run's test split; the dataset's
complaints about a setting get that setting's on-screen label here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import cnnkit.config.relabelled_examples as relabelled_examples
from cnnkit.config.train_config import TrainConfig
from cnnkit.config.settings import label, setting_error
from cnnkit.datasets import Dataset, count_images, load_dataset, write_corrected_copy
from cnnkit.errors import SettingError


def load_data(cfg: TrainConfig) -> Dataset:
    try:
        return load_dataset(
            cfg.dataset,
            path=cfg.dataset_path or None,
            image_size=cfg.image_size or None,
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
            seed=cfg.seed,
            train_limit=cfg.train_limit or None,
            exclude=cfg.exclude_examples,
            relabel=relabelled_examples.relabels(cfg.relabel_examples),
        )
    except SettingError as error:
        raise setting_error(error.field, str(error)) from None


def write_relabelled_copy(cfg: TrainConfig, data: Dataset) -> Path | None:
    """The corrected copy of a relabelling run's csv or folder dataset (`data`: its loaded split), written now or
    found from before; None for a run that relabels nothing."""
    if not data.relabelled:
        return None
    every_id = np.concatenate([data.ids_train, data.ids_val, data.ids_test])
    return write_corrected_copy(cfg.dataset, cfg.dataset_path, data.relabelled, every_id.tolist())


def split_warnings(data: Dataset) -> list[str]:
    """What is weak but still trains: a validation split with fewer images than classes (its
    metrics will jump about), or classes with no training image."""
    warnings = []
    counts, classes = data.split_counts(), data.num_classes
    if 0 < counts["validation"] < classes:
        warnings.append(f"Validation has only {count_images(counts['validation'], '')} for {classes} classes, so its loss "
                        f"and accuracy will jump about; raise the {label('val_fraction')} for steadier curves.")
    per_class = np.bincount(data.y_train, minlength=classes)
    missing = [data.class_names[c] for c in np.flatnonzero(per_class == 0)]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        warnings.append(f"No training image of {len(missing)} of the {classes} classes ({shown}): the network "
                        "can't learn them.")
    return warnings

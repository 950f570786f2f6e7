"""The dataset registry: loaders by name, and what a loader returns.

Loaders register themselves (`register_dataset`) when their modules load; the package's
`__init__` imports them all. This module imports nothing of cnnkit, so the settings can name
the registry's datasets without importing the loaders' own dependencies.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RawData:
    """What a loader returns: labeled images, plus the official test set if the dataset has one (whose
    examples are numbered by position)."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    ids: np.ndarray | None = None  # the examples of `x` by id (`example_ids`); None: numbered by position


Loader = Callable[[str | None, int | None], RawData]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    needs_path: bool
    has_official_test_split: bool
    loader: Loader


DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(
    name: str, description: str, needs_path: bool = False, official_test_split: bool = False
) -> Callable[[Loader], Loader]:
    """Register `loader(path, image_size) -> RawData` under `name`."""

    def register(loader: Loader) -> Loader:
        if name in DATASETS:
            raise ValueError(f"dataset {name!r} is already registered")
        DATASETS[name] = DatasetInfo(name, description, needs_path, official_test_split, loader)
        return loader

    return register


def list_datasets() -> list[dict]:
    return [
        {
            "name": info.name,
            "description": info.description,
            "needs_path": info.needs_path,
            "has_official_test_split": info.has_official_test_split,
        }
        for info in DATASETS.values()
    ]

"""Fixtures of the dataset tests: no downloads, and a throwaway dataset in a private registry."""

import numpy as np
import pytest
from dataset_files import private_registry

from cnnkit.datasets import RawData, official, register_dataset


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No test downloads: Keras fails like a machine without network, and the data dir is empty."""

    def no_network(name):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(official, "_download_with_keras", no_network)
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def fake_dataset(monkeypatch):
    """Register a throwaway dataset `fake` (x holds each example's index) in a private registry."""
    private_registry(monkeypatch)

    def register(y, x_test=None, y_test=None):
        y = np.asarray(y, dtype=np.int64)
        x = np.arange(len(y), dtype=np.uint8).reshape(-1, 1, 1, 1)
        names = tuple(str(c) for c in range(int(y.max()) + 1))
        register_dataset("fake", "a test dataset")(lambda path, size: RawData(x, y, names, x_test, y_test))

    return register

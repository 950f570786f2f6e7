"""Stable example ids: the same example has the same id in every run on the same dataset and split,
and the id says where the example came from.

An id is a string. Datasets with an official test split number their files' examples: "train/123"
is image 123 (from 0) of the training IDX file (MNIST, Fashion-MNIST) or of CIFAR's training batches
in order (data_batch_1 holds 0-9999); "test/45" the same in the test file. The sklearn digits and a
CSV number their examples: "123" is index 123 of `sklearn.datasets.load_digits()`, or data row 123
of the CSV (from 0, its header not counted). A folder or zip names the image's path inside it, e.g.
"cats/felix.png". Loaders that know more than positions put their ids in `RawData.ids`.
"""

import numpy as np

TRAIN_FILE, TEST_FILE = "train/", "test/"


def numbered(count: int, prefix: str = "") -> np.ndarray:
    """Ids by position: prefix + "0", "1", ... as a string array."""
    return np.array([f"{prefix}{index}" for index in range(count)], dtype=str)


def positions(wanted: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Where each of the `wanted` ids sits in `ids` (a split's ids): int64 positions; a wanted id that
    `ids` lacks raises KeyError naming it."""
    where = {example_id: position for position, example_id in enumerate(ids.tolist())}
    missing = [example_id for example_id in wanted.tolist() if example_id not in where]
    if missing:
        raise KeyError(f"example {missing[0]!r} is not in this split")
    return np.array([where[example_id] for example_id in wanted.tolist()], dtype=np.int64)

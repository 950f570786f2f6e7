"""Datasets by name: loaders in a registry, local copies before downloads, deterministic splits.

Every loader returns uint8 images (N, H, W, C) and int64 labels. Keras is imported only
when a dataset has to be downloaded, so everything else works with any Keras backend.
"""

import csv
import gzip
import hashlib
import io
import json
import math
import os
import pickle
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from contextlib import contextmanager
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd

from cnnkit.errors import InputError
from cnnkit.settings import label, setting_error
from cnnkit.images import IMAGE_EXTENSIONS, decode_image, image_channels, resize_with_pad, to_array
from cnnkit.safe_files import (
    MAX_ENTRY_BYTES, MAX_ZIP_BYTES, MAX_ZIP_ENTRIES, READ_ERRORS, open_regular, read_entry, read_regular, zip_entries,
    zip_path,
)

DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
# CIFAR-100 fine labels in label order (a Keras download comes without the meta file).
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)

DEFAULT_IMAGE_SIZE = 64
MAX_IMAGE_SIZE = 1024


@dataclass(frozen=True)
class RawData:
    """What a loader returns: labeled images, plus the official test set if the dataset has one."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset split three ways: uint8 images (N, H, W, C) with int64 class indices (N,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_counts(self) -> dict[str, int]:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}

    def fingerprint(self) -> str:
        """SHA-256 hex of class names and all six arrays: equal iff the data and its split are."""
        return _digest(self.class_names, self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)

    def test_fingerprint(self) -> str:
        """SHA-256 hex of class names and the test split only: equal for runs tested on the same
        images in the same order (an official test set, whatever the seed or training subset)."""
        return _digest(self.class_names, self.x_test, self.y_test)


def _digest(class_names: tuple[str, ...], *arrays: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps(class_names).encode())
    for array in arrays:
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


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


def load_dataset(
    name: str,
    *,
    path: str | None = None,
    image_size: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    train_limit: int | None = None,
) -> Dataset:
    """Load a registered dataset and split it, the same way every time for the same arguments.

    The official test set is used when the dataset has one; otherwise `test_fraction` of all
    examples becomes the test set. Then `val_fraction` of the rest becomes the validation set.
    All splits are stratified. `train_limit` keeps a stratified subset of that many training
    examples, for quick runs; validation and test keep all theirs. `image_size` applies only to
    datasets whose images vary in size (folder).

    A split that cannot serve its purpose is refused with an InputError naming the setting to
    change: training or test images fewer than classes, or a validation share that holds out
    nothing. `split_warnings` names the weaker ones that still train.
    """
    if name not in DATASETS:
        raise InputError(f"Unknown dataset '{name}'. Known datasets: {', '.join(DATASETS)}.", field="dataset")
    info = DATASETS[name]
    if not 0 <= val_fraction < 1:
        raise setting_error("val_fraction", f"must be at least 0 and below 1, not {val_fraction}.")
    if not 0 < test_fraction < 1:
        raise setting_error("test_fraction", f"must be above 0 and below 1, not {test_fraction}.")
    if train_limit is not None and train_limit < 1:
        raise setting_error("train_limit", f"must be a positive number of training images, not {train_limit}.")
    if info.needs_path and not path:
        raise setting_error("dataset_path", f"the '{name}' dataset needs a path: {info.description}.")

    raw = info.loader(path, image_size)
    _check_labels(raw, name)
    rng = np.random.default_rng(seed)
    if raw.x_test is None:
        pool, test = stratified_split(raw.y, test_fraction, rng)
        x_pool, y_pool, x_test, y_test = raw.x[pool], raw.y[pool], raw.x[test], raw.y[test]
    else:
        x_pool, y_pool, x_test, y_test = raw.x, raw.y, raw.x_test, raw.y_test
    train, val = stratified_split(y_pool, val_fraction, rng)
    x_train, y_train = x_pool[train], y_pool[train]
    if train_limit is not None:
        x_train, y_train = _subsample(x_train, y_train, train_limit, rng)
    data = Dataset(name, x_train, y_train, x_pool[val], y_pool[val], x_test, y_test, tuple(raw.class_names))
    _check_split_sizes(data, len(raw.y), val_fraction, test_fraction, train_limit, official_test=raw.x_test is not None)
    return data


def _images(count: int, kind: str) -> str:
    """"1 test image", "1,000 training images", "3 images"."""
    return " ".join(filter(None, (f"{count:,}", kind, "image" if count == 1 else "images")))


def _check_split_sizes(data: Dataset, total: int, val_fraction: float, test_fraction: float,
                       train_limit: int | None, official_test: bool) -> None:
    """Refuse splits a run can't learn from or be judged on (see `load_dataset`)."""
    counts, classes = data.split_counts(), data.num_classes
    if counts["train"] < classes:
        if train_limit is not None and train_limit < classes:
            raise setting_error("train_limit", f"{_images(train_limit, 'training')} can't cover {classes} classes: "
                                               f"use at least {classes} (one per class), or 0 for all.")
        raise InputError(f"Dataset '{data.name}' leaves only {_images(counts['train'], 'training')} for {classes} "
                         "classes; use more data or smaller shares for validation and test.", field="dataset")
    if counts["test"] < classes:
        if official_test:
            raise InputError(f"Dataset '{data.name}' has only {_images(counts['test'], 'official test')} for "
                             f"{classes} classes; its files may be incomplete.", field="dataset")
        raise setting_error("test_fraction", f"{test_fraction:g} of {total:,} images keeps "
                                             f"{_images(counts['test'], 'test')} for {classes} classes: test accuracy "
                                             f"needs at least one per class. Use a larger {label('test_fraction')} "
                                             "or more data.")
    if counts["validation"] == 0 and val_fraction > 0:
        raise setting_error("val_fraction", f"{val_fraction:g} of the training images holds out no image at all; "
                                            f"use a larger {label('val_fraction')}, 0 for no validation, or more data.")


def split_warnings(data: Dataset) -> list[str]:
    """What is weak but still trains: a validation split with fewer images than classes (its
    metrics will jump about), or classes with no training image."""
    warnings = []
    counts, classes = data.split_counts(), data.num_classes
    if 0 < counts["validation"] < classes:
        warnings.append(f"Validation has only {_images(counts['validation'], '')} for {classes} classes, so its loss "
                        f"and accuracy will jump about; raise the {label('val_fraction')} for steadier curves.")
    per_class = np.bincount(data.y_train, minlength=classes)
    missing = [data.class_names[c] for c in np.flatnonzero(per_class == 0)]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        warnings.append(f"No training image of {len(missing)} of the {classes} classes ({shown}): the network "
                        "can't learn them.")
    return warnings


def _check_labels(raw: RawData, name: str) -> None:
    if len(raw.y) == 0:
        raise InputError(f"Dataset '{name}' has no examples.")
    for y in (raw.y, raw.y_test):
        if y is not None and len(y) and (y.min() < 0 or y.max() >= len(raw.class_names)):
            raise InputError(
                f"Dataset '{name}' has labels outside 0..{len(raw.class_names) - 1} for its "
                f"{len(raw.class_names)} classes; its files may be corrupt."
            )


def stratified_split(
    y: np.ndarray, fraction: float, seed: int | np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split example indices into (keep, holdout), holding out `fraction` of every class.

    Class holdout sizes follow the class proportions and add up to round(fraction * len(y))
    (the leftover examples go to the largest remainders), except that no class gives up its
    last example. Both index arrays come in random order.
    """
    if not 0 <= fraction < 1:
        raise InputError(f"A split fraction must be at least 0 and below 1, not {fraction}.")
    rng = np.random.default_rng(seed)
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    held = np.zeros(len(y), dtype=bool)
    for code, quota in enumerate(_holdout_quotas(counts, fraction)):
        held[rng.permutation(np.flatnonzero(codes == code))[:quota]] = True
    return rng.permutation(np.flatnonzero(~held)), rng.permutation(np.flatnonzero(held))


def _holdout_quotas(counts: np.ndarray, fraction: float) -> np.ndarray:
    exact = counts * fraction
    quotas = np.minimum(np.floor(exact).astype(np.int64), counts - 1)
    leftover = round(fraction * counts.sum()) - quotas.sum()
    open_classes = np.flatnonzero(quotas < counts - 1)
    remainders = exact[open_classes] - quotas[open_classes]
    by_remainder = open_classes[np.argsort(-remainders, kind="stable")]
    quotas[by_remainder[: max(leftover, 0)]] += 1
    return quotas


def _subsample(
    x: np.ndarray, y: np.ndarray, limit: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if len(y) <= limit:
        return x, y
    _, chosen = stratified_split(y, limit / len(y), rng)
    return x[chosen], y[chosen]


# --- The offline default ---------------------------------------------------------------------


@register_dataset(
    "digits", "scikit-learn handwritten digits, 8x8 gray, 10 classes (1,797 images); offline"
)
def load_digits(path: str | None, image_size: int | None) -> RawData:
    from sklearn.datasets import load_digits as sklearn_digits  # slow import, needed only here

    digits = sklearn_digits()
    x = np.rint(digits.images * (255 / 16)).astype(np.uint8)[..., None]
    return RawData(x, digits.target.astype(np.int64), DIGIT_CLASSES)


# --- Downloadable datasets: local copies in CNNKIT_DATA_DIR first, then Keras ----------------


def data_dir() -> Path | None:
    """The folder named by CNNKIT_DATA_DIR, which holds local copies of downloadable datasets."""
    value = os.environ.get("CNNKIT_DATA_DIR")
    return Path(value).expanduser() if value else None


def _search_dirs(name: str, path: str | None) -> list[Path]:
    root = data_dir()
    dirs = [Path(path)] if path else []
    if root is not None:
        dirs += [root / name, root / name.replace("_", "-"), root]
    return list(dict.fromkeys(dirs))


def _download_with_keras(name: str) -> tuple:
    """keras.datasets.<name>.load_data(): the only Keras import in this module, made on demand."""
    import keras

    return getattr(keras.datasets, name).load_data()


def _load_official(
    name: str,
    path: str | None,
    read_local: Callable[[Path], RawData | None],
    looked_for: str,
    class_names: tuple[str, ...],
) -> RawData:
    dirs = _search_dirs(name, path)
    for folder in dirs:
        raw = read_local(folder)
        if raw is not None:
            return raw
    try:
        (x, y), (x_test, y_test) = _download_with_keras(name)
    except Exception as err:  # offline, proxy, damaged cache...: the fix is the same either way
        where = ", ".join(map(str, dirs)) or "nowhere, because CNNKIT_DATA_DIR is not set"
        raise InputError(
            f"Dataset '{name}' is not in CNNKIT_DATA_DIR and could not be downloaded ({err}). "
            f"Looked for {looked_for} in: {where}."
        ) from err
    return RawData(
        x if x.ndim == 4 else x[..., None],
        y.reshape(-1).astype(np.int64),
        class_names,
        x_test if x_test.ndim == 4 else x_test[..., None],
        y_test.reshape(-1).astype(np.int64),
    )


# MNIST-style IDX files.

_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _read_idx_folder(folder: Path, class_names: tuple[str, ...]) -> RawData | None:
    paths = [
        next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
        for stem in _IDX_FILES
    ]
    if None in paths:
        return None
    x, y = _read_idx_pair(paths[0], paths[1])
    x_test, y_test = _read_idx_pair(paths[2], paths[3])
    return RawData(x[..., None], y, class_names, x_test[..., None], y_test)


def _read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _read_idx(images_path, ndim=3)
    labels = _read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise InputError(
            f"{images_path} holds {len(images):,} images but {labels_path} holds "
            f"{len(labels):,} labels."
        )
    return images, labels.astype(np.int64)


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes (magic 0x0000080<ndim>, big-endian sizes), gzipped or not."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(f"{path} is a damaged gzip file ({err}).") from err
    header = 4 + 4 * ndim
    if len(data) < header or data[:4] != bytes([0, 0, 0x08, ndim]):
        raise InputError(
            f"{path} is not an IDX file of {ndim}-dimensional unsigned bytes (wrong header)."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != math.prod(shape):
        raise InputError(
            f"{path} declares shape {shape} ({math.prod(shape):,} bytes) but holds "
            f"{len(data) - header:,} bytes of data: it is truncated or corrupt."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


_IDX_LOOKED_FOR = " + ".join(f"{stem}[.gz]" for stem in _IDX_FILES)


@register_dataset(
    "mnist",
    "MNIST handwritten digits, 28x28 gray, 10 classes (60,000 train + 10,000 test)",
    official_test_split=True,
)
def load_mnist(path: str | None, image_size: int | None) -> RawData:
    read = partial(_read_idx_folder, class_names=DIGIT_CLASSES)
    return _load_official("mnist", path, read, _IDX_LOOKED_FOR, DIGIT_CLASSES)


@register_dataset(
    "fashion_mnist",
    "Fashion-MNIST clothing, 28x28 gray, 10 classes (60,000 train + 10,000 test)",
    official_test_split=True,
)
def load_fashion_mnist(path: str | None, image_size: int | None) -> RawData:
    read = partial(_read_idx_folder, class_names=FASHION_CLASSES)
    return _load_official("fashion_mnist", path, read, _IDX_LOOKED_FOR, FASHION_CLASSES)


# CIFAR python batches: pickled dicts of numpy arrays, in a folder or in the original tar.gz.


@dataclass(frozen=True)
class _CifarLayout:
    folder: str
    tarball: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: str
    names_key: str

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file, self.meta_file)

    @property
    def looked_for(self) -> str:
        return f"{self.folder}/ or {self.tarball}"


_CIFAR10 = _CifarLayout(
    folder="cifar-10-batches-py",
    tarball="cifar-10-python.tar.gz",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_file="test_batch",
    meta_file="batches.meta",
    label_key="labels",
    names_key="label_names",
)
_CIFAR100 = _CifarLayout(
    folder="cifar-100-python",
    tarball="cifar-100-python.tar.gz",
    train_files=("train",),
    test_file="test",
    meta_file="meta",
    label_key="fine_labels",
    names_key="fine_label_names",
)


def _read_cifar_folder(folder: Path, layout: _CifarLayout) -> RawData | None:
    batches = folder / layout.folder
    tarball = folder / layout.tarball
    if all((batches / name).is_file() for name in layout.files):
        source = str(batches)
        blobs = {name: (batches / name).read_bytes() for name in layout.files}
    elif tarball.is_file():
        source = str(tarball)
        blobs = _read_tar_members(tarball, layout.folder, layout.files)
    else:
        return None

    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        return _cifar_batch(blobs[name], layout.label_key, f"{name} in {source}")

    train = [batch(name) for name in layout.train_files]
    x_test, y_test = batch(layout.test_file)
    meta_name = f"{layout.meta_file} in {source}"
    names = _field(_unpickle(blobs[layout.meta_file], meta_name), layout.names_key, meta_name)
    return RawData(
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names),
        x_test,
        y_test,
    )


def _read_tar_members(tarball: Path, folder: str, names: tuple[str, ...]) -> dict[str, bytes]:
    """Read `folder/<name>` regular-file members into memory, without extracting anything.

    Only members at exactly those paths are read, so links and unsafe paths (absolute, `..`)
    are never touched.
    """
    wanted = {PurePosixPath(folder, name): name for name in names}
    blobs = {}
    try:
        with tarfile.open(tarball) as tar:
            for member in tar:
                name = wanted.get(PurePosixPath(member.name))
                if name is not None and member.isfile():
                    blobs[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise InputError(f"{tarball} is not a readable tar.gz archive ({err}).") from err
    missing = [f"{folder}/{name}" for name in names if name not in blobs]
    if missing:
        raise InputError(f"{tarball} lacks {', '.join(missing)}.")
    return blobs


def _cifar_batch(blob: bytes, label_key: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images NHWC and labels from one batch; its rows are 3072 bytes: R plane, G plane, B plane."""
    batch = _unpickle(blob, name)
    data = np.asarray(_field(batch, "data", name))
    labels = np.asarray(_field(batch, label_key, name), dtype=np.int64).reshape(-1)
    if data.dtype != np.uint8 or data.shape[1:] != (3072,) or len(data) != len(labels):
        raise InputError(
            f"{name} is not a CIFAR batch: expected uint8 rows of 3072 values and one label per "
            f"row, found {data.dtype} data of shape {data.shape} and {len(labels)} labels."
        )
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), labels


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and plain containers, and refuses anything else."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles
        }
    )

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _unpickle(blob: bytes, name: str) -> dict:
    """A pickled dict (keys may be bytes, as in the original CIFAR files) with str keys."""
    try:
        content = _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as err:  # a damaged or hostile pickle can fail in many ways
        raise InputError(f"{name} is not a readable CIFAR pickle ({err}).") from err
    if not isinstance(content, dict):
        raise InputError(f"{name} should hold a dict, not {type(content).__name__}.")
    return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in content.items()}


def _field(mapping: dict, key: str, name: str) -> object:
    if key not in mapping:
        raise InputError(f"{name} has no '{key}' entry.")
    return mapping[key]


@register_dataset(
    "cifar10",
    "CIFAR-10 photos, 32x32 color, 10 classes (50,000 train + 10,000 test)",
    official_test_split=True,
)
def load_cifar10(path: str | None, image_size: int | None) -> RawData:
    read = partial(_read_cifar_folder, layout=_CIFAR10)
    return _load_official("cifar10", path, read, _CIFAR10.looked_for, CIFAR10_CLASSES)


@register_dataset(
    "cifar100",
    "CIFAR-100 photos, 32x32 color, 100 fine classes (50,000 train + 10,000 test)",
    official_test_split=True,
)
def load_cifar100(path: str | None, image_size: int | None) -> RawData:
    read = partial(_read_cifar_folder, layout=_CIFAR100)
    return _load_official("cifar100", path, read, _CIFAR100.looked_for, CIFAR100_CLASSES)


# --- Files you bring: Kaggle CSV, image folders ----------------------------------------------


# Kaggle CSVs are read in chunks of rows, so memory holds the uint8 images plus one chunk of cells.
CSV_CHUNK_ROWS = 2000
MAX_CSV_HEADER_BYTES = 2**20  # 100,000 column names or so: far more than any image row needs
MAX_CSV_LABEL = 999  # labels are class numbers 0..999
_CSV_EXPECTED = "a 'label' column and a square number of pixel columns such as 784 (28x28), separated by commas"
_SHOWN_COLUMN_NAME = re.compile(r"label|[A-Za-z]{0,8}\d{1,7}")  # label, pixel0, p12: names, not a file's text


def read_digit_csv(
    source: str | os.PathLike | bytes | BinaryIO, name: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images and labels from a Kaggle digit-recognizer CSV: a `label` column plus pixel columns.

    Pixel columns (every other column, in order) hold a square image row by row, values 0-255;
    labels are class numbers from 0 to MAX_CSV_LABEL. Returns x uint8 (N, S, S, 1) and y int64
    (N,), or y None when there is no `label` column (the unlabeled test file). `source` is a path
    (a regular file of at most MAX_UPLOAD_BYTES), the file's bytes or a binary file object;
    `name` is what error messages call it. Rows in messages count from 1 after the header,
    columns from 1; messages never quote the file's cells.
    """
    name = name or (str(source) if isinstance(source, (str, os.PathLike)) else "the CSV file")
    with _csv_stream(source, name) as stream:
        columns = _csv_header(stream, name)
        pixel_columns = [i for i, column in enumerate(columns) if column != "label"]
        labeled = len(pixel_columns) < len(columns)
        images, labels, row = [], [], 0
        try:
            chunks = pd.read_csv(stream, header=None, names=range(len(columns)), index_col=False,
                                 chunksize=CSV_CHUNK_ROWS)
            for chunk in chunks:
                if chunk.empty:  # a header without rows
                    continue
                values = _numbers(chunk, columns, row, name)
                images.append(_pixels(values[:, pixel_columns], pixel_columns, columns, row, name))
                if labeled:
                    labels.append(_labels(values[:, columns.index("label")], row, name))
                row += len(chunk)
        except pd.errors.ParserError as err:
            raise InputError(f"{name} is not a well-formed CSV file ({str(err).strip()}).") from err
        except UnicodeDecodeError as err:
            raise InputError(f"{name} is not a well-formed CSV file: it is not UTF-8 text.") from err
    if not row:
        raise InputError(f"{name} has a header but no rows.")
    side = math.isqrt(len(pixel_columns))
    x = np.concatenate(images).reshape(-1, side, side, 1)
    return x, np.concatenate(labels) if labeled else None


@contextmanager
def _csv_stream(source: str | os.PathLike | bytes | BinaryIO, name: str) -> Iterator[BinaryIO]:
    """A binary stream of the CSV; a path must be a regular file, and a path or bytes at most MAX_UPLOAD_BYTES."""
    if isinstance(source, (str, os.PathLike)):
        with open_regular(source, MAX_UPLOAD_BYTES, name) as file:
            yield file
    elif isinstance(source, bytes):
        if len(source) > MAX_UPLOAD_BYTES:
            raise InputError(f"{name} is {len(source) / 2**20:,.0f} MB; files are limited to "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB.")
        yield io.BytesIO(source)
    else:
        yield source


def _csv_header(stream: BinaryIO, name: str) -> list[str]:
    """The column names of the header line, read bounded, or InputError saying what was expected."""
    try:
        line = stream.readline(MAX_CSV_HEADER_BYTES + 1)
    except OSError as err:
        raise InputError(f"Cannot read {name} ({err.strerror or err}).") from err
    if not line.strip():
        raise InputError(f"{name} is empty.")
    if len(line) > MAX_CSV_HEADER_BYTES:
        raise InputError(f"{name} has no header line in its first {MAX_CSV_HEADER_BYTES // 2**20} MB; "
                         f"expected {_CSV_EXPECTED}.")
    try:
        text = line.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise InputError(f"{name} is not a CSV file: its first line is not UTF-8 text.") from err
    columns = [column.strip() for column in next(csv.reader([text]))]
    if len(columns) == 1:
        for delimiter, called in ((";", "';'"), ("\t", "tab")):
            if delimiter in text:
                raise InputError(f"{name} looks {called}-delimited: use commas.")
    pixels = len([column for column in columns if column != "label"])
    if pixels == 0:
        raise InputError(f"{name} has no pixel columns, only a 'label' column.")
    if "label" not in columns and pixels < 4:
        raise InputError(f"{name}'s first line is not a header of {_CSV_EXPECTED}; it has {pixels} column"
                         f"{'s' * (pixels != 1)} and no 'label'.")
    if math.isqrt(pixels) ** 2 != pixels:
        raise InputError(f"{name} has {pixels} pixel columns, which is not a square image; "
                         f"expected a square number such as 784 (28x28).")
    return columns


def _column(columns: list[str], index: int) -> str:
    """"column 3 (pixel1)": the position, and the header's name when it is a plain column name."""
    shown = columns[index] if _SHOWN_COLUMN_NAME.fullmatch(columns[index]) else None
    return f"column {index + 1}" + (f" ({shown})" if shown else "")


def _numbers(frame: pd.DataFrame, columns: list[str], first_row: int, name: str) -> np.ndarray:
    """The cells as one numeric array, or InputError naming a non-numeric or blank cell (not its text)."""
    for index in frame.columns:
        cells = frame[index]
        if not pd.api.types.is_numeric_dtype(cells):
            row = int(np.argmax(pd.to_numeric(cells, errors="coerce").isna() & cells.notna()))
            raise InputError(f"{name}: row {first_row + row + 1}, {_column(columns, index)} is not a number.")
    values = frame.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        row, index = _first(np.isnan(values))
        raise InputError(f"{name}: row {first_row + row + 1}, {_column(columns, index)} is blank.")
    return values


def _pixels(values: np.ndarray, positions: list[int], columns: list[str], first_row: int, name: str) -> np.ndarray:
    """The pixel cells (at `positions` among `columns`) as uint8, or InputError naming the first bad one."""
    bad = (values < 0) | (values > 255) | (values != np.round(values))
    if bad.any():
        row, index = _first(bad)
        raise InputError(f"{name}: row {first_row + row + 1}, {_column(columns, positions[index])} is not a "
                         "whole number from 0 to 255, as pixel values must be.")
    return values.astype(np.uint8)


def _labels(values: np.ndarray, first_row: int, name: str) -> np.ndarray:
    bad = (values < 0) | (values > MAX_CSV_LABEL) | (values != np.round(values))
    if bad.any():
        row = first_row + int(np.argmax(bad)) + 1
        raise InputError(f"{name}: row {row} has a label that is not a whole number from 0 to {MAX_CSV_LABEL}; "
                         "labels must be class numbers.")
    return values.astype(np.int64)


def _first(mask: np.ndarray) -> tuple[int, int]:
    """(row, column) of the first True cell in reading order."""
    return divmod(int(np.argmax(mask)), mask.shape[1])


@register_dataset(
    "csv",
    "Kaggle digit-recognizer CSV with a 'label' column and one column per pixel "
    "(path: the .csv file)",
    needs_path=True,
)
def load_csv(path: str | None, image_size: int | None) -> RawData:
    x, labels = read_digit_csv(path)
    if labels is None:
        raise InputError(
            f"{path} has no 'label' column; training needs labeled data (this looks like an "
            f"unlabeled test file)."
        )
    values, y = np.unique(labels, return_inverse=True)
    return RawData(x, y.astype(np.int64), tuple(str(v) for v in values))


# Image folders: one sub-folder per class, as a directory, a .zip file or uploaded zip bytes.


def read_image_folder(source: str | os.PathLike | bytes, image_size: int | None = None) -> RawData:
    """Images sorted into one sub-folder per class, each fitted to image_size x image_size.

    `source` is a directory, a .zip file, or the bytes of a zip. A single top-level folder
    around the class folders (as zipping a folder produces) is looked through. Hidden files,
    __MACOSX/ and files without an image extension are ignored. Images keep one channel if
    all of them are grayscale, else they all get three.
    """
    side = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    if not isinstance(side, int) or not 1 <= side <= MAX_IMAGE_SIZE:
        raise InputError(
            f"image_size must be a whole number from 1 to {MAX_IMAGE_SIZE}, not {side!r}."
        )
    if isinstance(source, bytes):
        return _read_zip(io.BytesIO(source), "the uploaded zip", side)
    path = Path(source)
    if path.is_dir():
        return _read_classes(*_walk(path), str(path), side)
    if path.exists():  # a zip file: entries are read one at a time, so it may be larger than an upload
        with open_regular(path, MAX_ZIP_BYTES, str(path)) as file:
            return _read_zip(file, str(path), side)
    raise InputError(f"{path} is neither a folder nor a zip file.")


FileReaders = dict[PurePosixPath, Callable[[], bytes]]


def _walk(root: Path) -> tuple[FileReaders, set[PurePosixPath]]:
    """The files and folders under `root` (symlinked folders are not followed); each file is read
    later as a regular file of at most MAX_ENTRY_BYTES. More than MAX_ZIP_ENTRIES files are refused."""
    files: FileReaders = {}
    folders = set()
    for dirpath, dirnames, filenames in os.walk(root):
        relative = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        folders.update(relative / name for name in dirnames)
        files.update({relative / name: partial(read_regular, Path(dirpath) / name, MAX_ENTRY_BYTES,
                                               f"{relative / name} in {root}") for name in filenames})
        if len(files) > MAX_ZIP_ENTRIES:
            raise InputError(f"{root} holds more than {MAX_ZIP_ENTRIES:,} files; at most {MAX_ZIP_ENTRIES:,} are "
                             "allowed.")
    return files, folders


def _read_zip(file: BinaryIO, source: str, side: int) -> RawData:
    try:
        with zipfile.ZipFile(file) as archive:
            entries = zip_entries(archive, source)
            files = {
                zip_path(entry.filename): partial(read_entry, archive, entry, source)
                for entry in entries
                if not entry.is_dir()
            }
            folders = {zip_path(entry.filename) for entry in entries if entry.is_dir()}
            return _read_classes(files, folders, source, side)
    except zipfile.BadZipFile as err:
        raise InputError(f"{source} is not a valid zip file ({err}).") from err


def _read_classes(
    files: FileReaders, folders: set[PurePosixPath], source: str, side: int
) -> RawData:
    groups = _group_by_class(list(files), folders, source)
    arrays, labels, all_gray = [], [], True
    for label, paths in enumerate(groups.values()):
        for path in paths:
            name = f"{path} in {source}"
            try:
                data = files[path]()
            except READ_ERRORS as err:
                raise InputError(f"Cannot read {name} ({err}).") from err
            img = decode_image(data, name)
            all_gray = all_gray and image_channels(img) == 1
            arrays.append(resize_with_pad(to_array(img, 3), side))
            labels.append(label)
    x = np.stack(arrays)
    # A grayscale image converted to RGB has three equal channels: keep one.
    x = np.ascontiguousarray(x[..., :1]) if all_gray else x
    return RawData(x, np.array(labels, dtype=np.int64), tuple(groups))


def _group_by_class(
    paths: list[PurePosixPath], folders: set[PurePosixPath], source: str
) -> dict[str, list[PurePosixPath]]:
    """Image paths by class folder, both sorted; wrapper folders around the classes are skipped."""
    visible = [path for path in paths if _is_visible(path)]
    images = sorted(path for path in visible if path.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS)
    folders = {folder for folder in folders if _is_visible(folder)}
    folders |= {parent for path in visible for parent in path.parents if parent.parts}
    depth = 0
    while len(_names_at(folders, depth)) == 1 and all(len(p.parts) > depth + 2 for p in images):
        depth += 1
    loose = [path for path in images if len(path.parts) == depth + 1]
    if loose:
        raise InputError(
            f"{loose[0]} in {source} is not inside a class folder; put the images of each class "
            f"in their own sub-folder."
        )
    classes = sorted(_names_at(folders, depth))
    if len(classes) < 2:
        raise InputError(
            f"{source} needs at least 2 class folders (one sub-folder of images per class); "
            f"found {len(classes)}{': ' if classes else ''}{', '.join(classes)}."
        )
    groups = {name: [path for path in images if path.parts[depth] == name] for name in classes}
    for name, members in groups.items():
        if not members:
            raise InputError(
                f"Class folder '{name}' in {source} has no images "
                f"({', '.join(sorted(IMAGE_EXTENSIONS))})."
            )
    return groups


def _names_at(folders: set[PurePosixPath], depth: int) -> set[str]:
    return {folder.parts[depth] for folder in folders if len(folder.parts) > depth}


def _is_visible(path: PurePosixPath) -> bool:
    return not any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


@register_dataset(
    "folder",
    "Your own images, one sub-folder per class (path: a folder or a .zip); "
    f"resized with padding to image_size (default {DEFAULT_IMAGE_SIZE})",
    needs_path=True,
)
def load_folder(path: str | None, image_size: int | None) -> RawData:
    return read_image_folder(path, image_size)


# Uploaded datasets are stored by content, so training threads (and relaunches) can read them by path.

UPLOAD_KINDS = {".csv": "csv", ".zip": "folder"}
MAX_UPLOAD_BYTES = 200 * 2**20


def save_upload(data: bytes, filename: str, directory: str | os.PathLike) -> tuple[str, Path]:
    """Keep an uploaded CSV or zip under a name derived from its content.

    Returns (dataset name, stored path). The content is only checked for its kind here;
    the loader reports what is wrong inside it.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_KINDS:
        raise InputError(f"{filename} is not a .csv or .zip file; upload a Kaggle-style CSV or a zip of class folders.")
    if not data:
        raise InputError(f"{filename} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"{filename} is {len(data) / 2**20:.0f} MB; uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MB.")
    if suffix == ".zip" and not zipfile.is_zipfile(io.BytesIO(data)):
        raise InputError(f"{filename} is not a valid zip file.")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}{suffix}"
    if not path.exists():
        partial_path = path.with_suffix(suffix + ".part")
        partial_path.write_bytes(data)
        partial_path.replace(path)
    return UPLOAD_KINDS[suffix], path.resolve()


def sample_images() -> dict[str, np.ndarray]:
    """scikit-learn's two bundled photos (a temple in China, a flower), uint8 RGB; offline."""
    from sklearn.datasets import load_sample_images

    bundle = load_sample_images()
    return {Path(name).stem: image for name, image in zip(bundle.filenames, bundle.images)}

"""The named datasets: scikit-learn's digits (offline), and MNIST, Fashion-MNIST, CIFAR-10 and
CIFAR-100 from local copies in CNNKIT_DATA_DIR (IDX files, CIFAR python batches read with a
restricted unpickler) or else a Keras download.

Keras is imported only when a dataset has to be downloaded.
"""

import gzip
import io
import math
import os
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np

from cnnkit.datasets.decoded_cache import cached_arrays
from cnnkit.datasets.registry import RawData, register_dataset
from cnnkit.errors import InputError

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

DATA_DIR_VARIABLE = "CNNKIT_DATA_DIR"  # the folder of local copies of the downloadable datasets


def data_dir() -> Path | None:
    """The folder named by CNNKIT_DATA_DIR, which holds local copies of downloadable datasets."""
    value = os.environ.get(DATA_DIR_VARIABLE)
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
        where = ", ".join(map(str, dirs)) or f"nowhere, because {DATA_DIR_VARIABLE} is not set"
        raise InputError(
            f"Dataset '{name}' is not in {DATA_DIR_VARIABLE} and could not be downloaded ({err}). "
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


def _idx_paths(folder: Path) -> list[Path] | None:
    """The four IDX files in `folder`, each gzipped or not; None when one is missing."""
    paths = [next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None) for stem in _IDX_FILES]
    return None if None in paths else paths


def _read_idx_folder(folder: Path, class_names: tuple[str, ...]) -> RawData | None:
    paths = _idx_paths(folder)
    if paths is None:
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
    return cached_arrays([path], lambda: {"values": _decode_idx(path, ndim)})["values"]


def _decode_idx(path: Path, ndim: int) -> np.ndarray:
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


def _has_cifar_batches(folder: Path, layout: _CifarLayout) -> bool:
    return all((folder / layout.folder / name).is_file() for name in layout.files)


def _read_cifar_folder(folder: Path, layout: _CifarLayout) -> RawData | None:
    batches = folder / layout.folder
    tarball = folder / layout.tarball
    if _has_cifar_batches(folder, layout):
        sources = [batches / name for name in layout.files]
        arrays = cached_arrays(sources, lambda: _decode_cifar(
            {name: (batches / name).read_bytes() for name in layout.files}, layout, str(batches)))
    elif tarball.is_file():
        arrays = cached_arrays([tarball], lambda: _decode_cifar(
            _read_tar_members(tarball, layout.folder, layout.files), layout, str(tarball)))
    else:
        return None
    return RawData(arrays["x"], arrays["y"], tuple(arrays["class_names"].tolist()), arrays["x_test"], arrays["y_test"])


def _decode_cifar(blobs: dict[str, bytes], layout: _CifarLayout, source: str) -> dict[str, np.ndarray]:
    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        return _cifar_batch(blobs[name], layout.label_key, f"{name} in {source}")

    train = [batch(name) for name in layout.train_files]
    x_test, y_test = batch(layout.test_file)
    meta_name = f"{layout.meta_file} in {source}"
    names = _field(_unpickle(blobs[layout.meta_file], meta_name), layout.names_key, meta_name)
    return {
        "x": np.concatenate([x for x, _ in train]),
        "y": np.concatenate([y for _, y in train]),
        "class_names": np.array([n.decode() if isinstance(n, bytes) else str(n) for n in names]),
        "x_test": x_test,
        "y_test": y_test,
    }


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


# --- Whether a downloadable dataset is on this machine already -------------------------------

# Where each one's files may be, checked without reading them: a CNNKIT_DATA_DIR copy, or what a Keras
# download left in its cache ($KERAS_HOME/datasets, else ~/.keras/datasets), which its next load reuses.
_FOUND_IN = {
    "mnist": lambda folder: _idx_paths(folder) is not None,
    "fashion_mnist": lambda folder: _idx_paths(folder) is not None,
    "cifar10": lambda folder: _has_cifar_batches(folder, _CIFAR10) or (folder / _CIFAR10.tarball).is_file(),
    "cifar100": lambda folder: _has_cifar_batches(folder, _CIFAR100) or (folder / _CIFAR100.tarball).is_file(),
}
_KERAS_CACHED = {"mnist": "mnist.npz", "fashion_mnist": "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                 "cifar10": "cifar-10-batches-py-target", "cifar100": "cifar-100-python-target"}


def keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def download_needed(name: str) -> str | None:
    """Why loading dataset `name` would have to download it, in one line: none of its files is on this
    machine. None when they are, and for the datasets that are never downloaded (digits, CSVs, folders)."""
    if name not in _FOUND_IN or (keras_cache() / _KERAS_CACHED[name]).exists():
        return None
    dirs = _search_dirs(name, None)
    if any(_FOUND_IN[name](folder) for folder in dirs):
        return None
    where = f"in {', '.join(map(str, dirs))}" if dirs else f"in {DATA_DIR_VARIABLE} (not set)"
    return f"{name} would have to be downloaded: its files are neither {where} nor in Keras' cache ({keras_cache()})."


# --- Not a dataset: photos for the Kernels page, bundled like digits ------------------------


def sample_images() -> dict[str, np.ndarray]:
    """scikit-learn's two bundled photos (a temple in China, a flower), uint8 RGB; offline."""
    from sklearn.datasets import load_sample_images

    bundle = load_sample_images()
    return {Path(name).stem: image for name, image in zip(bundle.filenames, bundle.images)}

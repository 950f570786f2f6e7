"""Writers of the real dataset formats (IDX, CIFAR batches, tarballs, Kaggle CSV, image folders) for the tests.

Imported by module name (pytest.ini's pythonpath); nothing is downloaded.
"""

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from cnnkit.datasets import registry, splits, CIFAR10_CLASSES, CIFAR100_CLASSES, DATASETS
from files import encode

RNG = np.random.default_rng(1234)


def data_root(tmp_path: Path) -> Path:
    return tmp_path / "data"


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def write_mnist(folder: Path, gz: bool = True, n_train: int = 60, n_test: int = 20) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": RNG.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": RNG.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for stem, array in arrays.items():
        write_idx(folder / (f"{stem}.gz" if gz else stem), array, gz)
    return arrays


def cifar_pickle(content: dict, protocol: int = 2) -> bytes:
    """Like the original files: a pickled dict with bytes keys."""
    return pickle.dumps({key.encode(): value for key, value in content.items()}, protocol=protocol)


def cifar_batch(n: int, label_key: str, n_classes: int, protocol: int = 2) -> tuple[bytes, np.ndarray]:
    data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [i % n_classes for i in range(n)]
    content = {"batch_label": b"batch", "data": data, label_key: labels, "filenames": [b"x.png"] * n}
    return cifar_pickle(content, protocol), data


def cifar10_files(protocol: int = 2) -> dict[str, bytes]:
    files = {f"data_batch_{i}": cifar_batch(10, "labels", 10, protocol)[0] for i in range(1, 6)}
    files["test_batch"] = cifar_batch(10, "labels", 10, protocol)[0]
    names = [name.encode() for name in CIFAR10_CLASSES]
    files["batches.meta"] = cifar_pickle({"label_names": names, "num_vis": 3072}, protocol)
    return files


def cifar100_files() -> dict[str, bytes]:
    names = {"fine_label_names": [n.encode() for n in CIFAR100_CLASSES], "coarse_label_names": [b"c"]}
    return {
        "train": cifar_batch(200, "fine_labels", 100)[0],
        "test": cifar_batch(100, "fine_labels", 100)[0],
        "meta": cifar_pickle(names),
    }


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write_tar(path: Path, files: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def csv_text(labels, pixels) -> str:
    n_pixels = len(pixels[0])
    header = ([] if labels is None else ["label"]) + [f"pixel{i}" for i in range(n_pixels)]
    rows = [
        ([] if labels is None else [str(labels[i])]) + [str(v) for v in row] for i, row in enumerate(pixels)
    ]
    return "\n".join(",".join(cells) for cells in [header, *rows]) + "\n"


def mixed_images() -> dict[str, bytes]:
    """Class folders of images in assorted sizes and modes, some in color."""
    palette = Image.new("P", (12, 12))
    palette.putpalette([0, 0, 0, 0, 200, 0])
    sixteen = Image.fromarray((RNG.integers(0, 65535, (20, 10))).astype(np.uint16))
    return {
        "female/a.png": encode(Image.new("RGB", (30, 20), (255, 0, 0)), "PNG"),
        "female/b.jpg": encode(Image.new("L", (20, 30), 128), "JPEG"),
        "female/c.png": encode(Image.new("RGBA", (10, 10), (0, 0, 255, 128)), "PNG"),
        "male/d.gif": encode(palette, "GIF"),
        "male/e.png": encode(sixteen, "PNG"),
        "male/f.webp": encode(Image.new("RGB", (50, 5), (9, 9, 9)), "WEBP"),
    }


def gray_images() -> dict[str, bytes]:
    gray_palette = Image.new("L", (8, 8), 90).convert("P")
    return {
        "cats/a.png": encode(Image.new("L", (8, 12), 200), "PNG"),
        "cats/b.png": encode(Image.fromarray(np.full((9, 9), 4000, dtype=np.uint16)), "PNG"),
        "dogs/c.gif": encode(gray_palette, "GIF"),
        "dogs/d.bmp": encode(Image.new("1", (8, 8), 1), "BMP"),
    }


def private_registry(monkeypatch):
    """A copy of the registry for this test, where registering and loading look (the real one stays as it is)."""
    copy = dict(DATASETS)
    for module in (registry, splits):
        monkeypatch.setattr(module, "DATASETS", copy)


"""cnnkit.datasets: the registry, real file formats, hostile inputs and deterministic splits.

Every file is written in its real format into tmp_path; nothing is downloaded.
"""

import gzip
import io
import os
import pickle
import re
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnkit.datasets import safe_files
from cnnkit.datasets import digit_csv, official, registry, splits, uploads
from cnnkit.datasets import (
    CIFAR10_CLASSES,
    CIFAR100_CLASSES,
    DATASETS,
    FASHION_CLASSES,
    RawData,
    list_datasets,
    load_dataset,
    read_digit_csv,
    read_image_folder,
    register_dataset,
    stratified_split,
)
from cnnkit.errors import InputError, SettingError
from files import encode, zip_of

RNG = np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test downloads: Keras fails like a machine without network, and the data dir is empty."""

    def no_network(name):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(official, "_download_with_keras", no_network)
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))


def data_root(tmp_path: Path) -> Path:
    return tmp_path / "data"


# --- writers for the real formats ----------------------------------------------------------


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


# --- registry ------------------------------------------------------------------------------


def test_list_datasets_describes_every_built_in_dataset():
    listed = {entry["name"]: entry for entry in list_datasets()}
    assert set(listed) == {"digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "csv", "folder"}
    assert all(set(entry) == {"name", "description", "needs_path", "has_official_test_split"} for entry in listed.values())
    assert {name for name, entry in listed.items() if entry["needs_path"]} == {"csv", "folder"}
    assert {name for name, entry in listed.items() if entry["has_official_test_split"]} == {
        "mnist",
        "fashion_mnist",
        "cifar10",
        "cifar100",
    }


def test_an_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(InputError, match="Unknown dataset 'imagenet'.*digits.*mnist"):
        load_dataset("imagenet")


@pytest.mark.parametrize("name", ["csv", "folder"])
def test_datasets_that_need_a_path_say_so(name):
    with pytest.raises(InputError, match=f"'{name}' dataset needs a path"):
        load_dataset(name)


def test_a_name_cannot_be_registered_twice(monkeypatch):
    private_registry(monkeypatch)
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("digits", "again")(lambda path, size: None)


def test_the_library_does_not_import_keras_or_tensorflow():
    code = (
        "import sys, cnnkit.datasets.images, cnnkit.datasets\n"
        "cnnkit.datasets.load_dataset('digits')\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded & {'keras', 'tensorflow', 'jax', 'torch'}, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- splits --------------------------------------------------------------------------------


def test_stratified_split_holds_out_the_fraction_of_every_class():
    y = np.repeat([0, 1, 2], [100, 50, 10])
    keep, holdout = stratified_split(y, 0.2, seed=0)
    assert np.bincount(y[holdout]).tolist() == [20, 10, 2]
    assert sorted(np.concatenate([keep, holdout]).tolist()) == list(range(len(y)))


def test_stratified_split_totals_round_fraction_times_examples():
    y = np.repeat([0, 1, 2], 3)
    _, holdout = stratified_split(y, 0.5, seed=0)
    assert len(holdout) == 4  # round(4.5); one class gives 2, the others 1


def test_a_class_with_a_single_example_stays_in_keep():
    y = np.array([0] * 10 + [1])
    keep, holdout = stratified_split(y, 0.5, seed=0)
    assert 10 in keep and 10 not in holdout


def test_stratified_split_is_fixed_by_the_seed():
    y = np.arange(200) % 4
    first, second = stratified_split(y, 0.3, seed=7), stratified_split(y, 0.3, seed=7)
    other = stratified_split(y, 0.3, seed=8)
    assert all((a == b).all() for a, b in zip(first, second))
    assert set(first[1]) != set(other[1])


def test_a_zero_fraction_holds_out_nothing():
    keep, holdout = stratified_split(np.arange(10) % 2, 0.0, seed=0)
    assert len(keep) == 10 and len(holdout) == 0


def test_digits_split_60_20_20_stratified():
    data = load_dataset("digits", test_fraction=0.2, val_fraction=0.25, seed=0)
    counts = data.split_counts()
    assert counts == {"train": 1078, "validation": 360, "test": 359}
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert data.x_train.max() == 255
    for y in (data.y_train, data.y_val, data.y_test):
        shares = np.bincount(y, minlength=10) / len(y)
        assert np.abs(shares - 0.1).max() < 0.015


def test_the_same_arguments_give_the_same_split_and_fingerprint():
    first, second = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    assert (first.x_train == second.x_train).all() and (first.y_test == second.y_test).all()
    assert first.fingerprint() == second.fingerprint()


def test_another_seed_or_limit_gives_another_fingerprint():
    base = load_dataset("digits", seed=3).fingerprint()
    assert load_dataset("digits", seed=4).fingerprint() != base
    assert load_dataset("digits", seed=3, train_limit=500).fingerprint() != base


def test_an_official_test_split_is_kept_and_validation_comes_from_training(fake_dataset):
    x_test = np.zeros((7, 1, 1, 1), dtype=np.uint8)
    fake_dataset(np.arange(100) % 2, x_test, np.arange(7) % 2)
    data = load_dataset("fake", val_fraction=0.1, test_fraction=0.5)
    assert data.split_counts() == {"train": 90, "validation": 10, "test": 7}
    assert (data.x_test == 0).all()


def test_validation_can_be_empty_with_the_right_shape(fake_dataset):
    fake_dataset(np.arange(20) % 2)
    data = load_dataset("fake", val_fraction=0)
    assert data.x_val.shape == (0, 1, 1, 1) and data.y_val.shape == (0,)
    assert data.split_counts() == {"train": 16, "validation": 0, "test": 4}


def test_train_limit_caps_only_the_training_images_with_stratification():
    full, limited = load_dataset("digits"), load_dataset("digits", train_limit=100)
    assert limited.split_counts() == {"train": 100, "validation": 144, "test": 359}
    assert np.bincount(limited.y_train).tolist() == [10] * 10
    assert np.array_equal(limited.x_val, full.x_val) and np.array_equal(limited.x_test, full.x_test)
    assert set(map(bytes, limited.x_train)) <= set(map(bytes, full.x_train))


def test_splits_are_disjoint(fake_dataset):
    fake_dataset(np.arange(100) % 3)
    data = load_dataset("fake", seed=5)
    indices = [set(x.ravel().tolist()) for x in (data.x_train, data.x_val, data.x_test)]
    assert sum(map(len, indices)) == len(set.union(*indices)) == 100


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"test_fraction": 0}, "test_fraction"),
        ({"train_limit": 0}, "train_limit"),
    ],
)
def test_bad_split_arguments_are_refused_by_name(arguments, field):
    with pytest.raises(SettingError) as raised:
        load_dataset("digits", **arguments)
    assert raised.value.field == field and str(raised.value).startswith("must be ")


def test_too_few_examples_for_a_test_split_is_an_input_error(fake_dataset):
    fake_dataset([0, 1, 0, 1])
    with pytest.raises(InputError, match=r"^0.1 of 4 images keeps 0 test images for 2 classes") as raised:
        load_dataset("fake", test_fraction=0.1)
    assert raised.value.field == "test_fraction"


def test_too_few_examples_for_a_validation_split_is_an_input_error(fake_dataset):
    fake_dataset([0, 1] * 5)
    with pytest.raises(InputError, match=r"^0.05 of the training images holds out no image") as raised:
        load_dataset("fake", test_fraction=0.2, val_fraction=0.05)
    assert raised.value.field == "val_fraction"


def test_fewer_training_images_than_classes_is_refused_naming_the_limit():
    with pytest.raises(InputError, match=r"^5 training images can't cover 10 classes: use at "
                                         r"least 10") as raised:
        load_dataset("digits", train_limit=5)
    assert raised.value.field == "train_limit"
    assert load_dataset("digits", train_limit=10).split_counts()["train"] == 10


def test_fewer_test_images_than_classes_is_refused_naming_the_test_share():
    with pytest.raises(InputError, match=r"^.* keeps 7 test images for 10 classes") as raised:
        load_dataset("digits", test_fraction=0.004)
    assert raised.value.field == "test_fraction"


# --- MNIST and Fashion-MNIST IDX files -----------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("subfolder", ["fashion_mnist", "fashion-mnist", "."])
def test_fashion_mnist_loads_from_idx_files_in_the_data_dir(tmp_path, gz, subfolder):
    arrays = write_mnist(data_root(tmp_path) / subfolder, gz=gz)
    data = load_dataset("fashion_mnist", val_fraction=0.1)
    assert data.split_counts() == {"train": 54, "validation": 6, "test": 20}
    assert data.input_shape == (28, 28, 1)
    assert data.class_names == FASHION_CLASSES
    assert (data.x_test[..., 0] == arrays["t10k-images-idx3-ubyte"]).all()
    assert (data.y_test == arrays["t10k-labels-idx1-ubyte"]).all()


def test_an_official_test_set_has_one_test_fingerprint_whatever_the_seed(tmp_path):
    write_mnist(data_root(tmp_path) / "mnist")
    first, second = load_dataset("mnist", seed=3), load_dataset("mnist", seed=4, train_limit=30)
    assert first.fingerprint() != second.fingerprint()
    assert first.test_fingerprint() == second.test_fingerprint()
    assert load_dataset("digits", seed=3).test_fingerprint() != load_dataset("digits", seed=4).test_fingerprint()


def test_mnist_has_digit_class_names(tmp_path):
    write_mnist(data_root(tmp_path) / "mnist")
    assert load_dataset("mnist").class_names == tuple("0123456789")


def test_an_idx_file_with_a_wrong_magic_number_is_named(tmp_path):
    folder = data_root(tmp_path) / "mnist"
    write_mnist(folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(20)))
    with pytest.raises(InputError, match="train-labels-idx1-ubyte.gz is not an IDX file"):
        load_dataset("mnist")


def test_a_truncated_idx_file_is_named(tmp_path):
    folder = data_root(tmp_path) / "mnist"
    write_mnist(folder, gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputError, match="t10k-images-idx3-ubyte declares shape .* truncated"):
        load_dataset("mnist")


def test_a_damaged_gzip_file_is_named(tmp_path):
    folder = data_root(tmp_path) / "mnist"
    write_mnist(folder)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(InputError, match="train-images-idx3-ubyte.gz is a damaged gzip file"):
        load_dataset("mnist")


def test_image_and_label_counts_must_match(tmp_path):
    folder = data_root(tmp_path) / "mnist"
    write_mnist(folder)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(59), gz=True)
    with pytest.raises(InputError, match="holds 60 images but .*train-labels-idx1-ubyte.gz holds 59"):
        load_dataset("mnist")


def test_a_dataset_missing_locally_that_cannot_be_downloaded_explains_where_it_looked(tmp_path):
    with pytest.raises(InputError) as caught:
        load_dataset("fashion_mnist")
    message = str(caught.value)
    assert "not in CNNKIT_DATA_DIR and could not be downloaded" in message
    assert "no network" in message
    assert "train-images-idx3-ubyte[.gz]" in message
    assert str(data_root(tmp_path) / "fashion-mnist") in message


def test_without_a_data_dir_the_message_says_it_is_not_set(monkeypatch):
    monkeypatch.delenv("CNNKIT_DATA_DIR")
    with pytest.raises(InputError, match="CNNKIT_DATA_DIR is not set"):
        load_dataset("cifar10")


def test_a_keras_download_is_used_when_there_is_no_local_copy(monkeypatch):
    def fake_keras(name):
        assert name == "cifar10"
        x = np.zeros((20, 32, 32, 3), dtype=np.uint8)
        y = (np.arange(20) % 10).reshape(-1, 1)  # Keras gives CIFAR labels as (N, 1)
        return (x, y), (x[:10], y[:10])

    monkeypatch.setattr(official, "_download_with_keras", fake_keras)
    data = load_dataset("cifar10", val_fraction=0.5)
    assert data.split_counts() == {"train": 10, "validation": 10, "test": 10}
    assert data.y_train.shape == (10,) and data.class_names == CIFAR10_CLASSES


def test_a_keras_download_of_gray_images_gets_a_channel_axis(monkeypatch):
    x = np.zeros((20, 28, 28), dtype=np.uint8)
    monkeypatch.setattr(official, "_download_with_keras", lambda name: ((x, np.arange(20) % 10), (x, np.arange(20) % 10)))
    assert load_dataset("mnist", val_fraction=0.5).input_shape == (28, 28, 1)


def test_an_explicit_path_is_searched_for_the_files(tmp_path):
    write_mnist(tmp_path / "elsewhere")
    assert load_dataset("mnist", path=str(tmp_path / "elsewhere")).split_counts()["test"] == 20


# --- CIFAR python batches ------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar10_loads_from_the_batches_folder(tmp_path, protocol):
    files = cifar10_files(protocol)
    write_files(data_root(tmp_path) / "cifar10" / "cifar-10-batches-py", files)
    data = load_dataset("cifar10", val_fraction=0.2)
    assert data.split_counts() == {"train": 40, "validation": 10, "test": 10}
    assert data.input_shape == (32, 32, 3) and data.class_names == CIFAR10_CLASSES


def test_cifar_rows_are_channel_planes_turned_into_nhwc(tmp_path):
    files = cifar10_files()
    row = np.zeros(3072, dtype=np.uint8)
    row[0 * 1024 + 5 * 32 + 7] = 10  # R plane, pixel (row 5, col 7)
    row[1 * 1024 + 5 * 32 + 7] = 20  # G plane
    row[2 * 1024 + 5 * 32 + 7] = 30  # B plane
    data = np.repeat(row[None], 10, axis=0)
    files["test_batch"] = cifar_pickle({"data": data, "labels": list(range(10))})
    write_files(data_root(tmp_path) / "cifar-10-batches-py", files)
    x_test = load_dataset("cifar10").x_test
    assert x_test[0, 5, 7].tolist() == [10, 20, 30]
    assert x_test[0].sum() == 60


def test_cifar10_loads_from_the_original_tarball_without_extracting(tmp_path):
    members = {f"cifar-10-batches-py/{name}": data for name, data in cifar10_files().items()}
    members["../escaped"] = b"never read"
    members["/tmp/absolute"] = b"never read"
    write_tar(data_root(tmp_path) / "cifar10" / "cifar-10-python.tar.gz", members)
    data = load_dataset("cifar10", val_fraction=0.2)
    assert data.split_counts() == {"train": 40, "validation": 10, "test": 10}
    assert not (data_root(tmp_path) / "escaped").exists()
    assert os.listdir(data_root(tmp_path) / "cifar10") == ["cifar-10-python.tar.gz"]


def test_a_tarball_missing_a_batch_names_it(tmp_path):
    files = cifar10_files()
    del files["data_batch_3"]
    write_tar(data_root(tmp_path) / "cifar-10-python.tar.gz", {f"cifar-10-batches-py/{n}": d for n, d in files.items()})
    with pytest.raises(InputError, match="lacks cifar-10-batches-py/data_batch_3"):
        load_dataset("cifar10")


@pytest.mark.parametrize("packed", [False, True])
def test_cifar100_uses_fine_labels_and_their_names(tmp_path, packed):
    files = cifar100_files()
    if packed:
        write_tar(data_root(tmp_path) / "cifar-100-python.tar.gz", {f"cifar-100-python/{n}": d for n, d in files.items()})
    else:
        write_files(data_root(tmp_path) / "cifar100" / "cifar-100-python", files)
    data = load_dataset("cifar100", val_fraction=0.5)
    assert data.split_counts() == {"train": 100, "validation": 100, "test": 100}
    assert data.num_classes == 100 and data.class_names[:2] == ("apple", "aquarium_fish")
    assert sorted(np.unique(data.y_test)) == list(range(100))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    files = cifar10_files()
    files["data_batch_1"] = pickle.dumps({b"data": Exploit(), b"labels": [0]}, protocol=2)
    write_files(data_root(tmp_path) / "cifar-10-batches-py", files)
    with pytest.raises(InputError, match=r"data_batch_1 .*refusing to load (posix|os)\.system"):
        load_dataset("cifar10")
    assert not marker.exists()


def test_a_batch_with_the_wrong_row_size_is_named(tmp_path):
    files = cifar10_files()
    files["test_batch"] = cifar_pickle({"data": np.zeros((10, 100), dtype=np.uint8), "labels": [0] * 10})
    write_files(data_root(tmp_path) / "cifar-10-batches-py", files)
    with pytest.raises(InputError, match="test_batch .*is not a CIFAR batch"):
        load_dataset("cifar10")


def test_labels_beyond_the_class_names_are_refused(tmp_path):
    files = cifar10_files()
    files["test_batch"] = cifar_pickle({"data": np.zeros((1, 3072), dtype=np.uint8), "labels": [10]})
    write_files(data_root(tmp_path) / "cifar-10-batches-py", files)
    with pytest.raises(InputError, match="labels outside 0..9"):
        load_dataset("cifar10")


# --- Kaggle digit-recognizer CSV -----------------------------------------------------------


def test_a_labeled_kaggle_csv_gives_28x28_images_in_row_major_order(tmp_path):
    pixels = RNG.integers(0, 256, (5, 784))
    path = tmp_path / "train.csv"
    path.write_text(csv_text([3, 1, 4, 1, 5], pixels))
    x, y = read_digit_csv(path)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.uint8
    assert (x.reshape(5, 784) == pixels).all()
    assert y.tolist() == [3, 1, 4, 1, 5] and y.dtype == np.int64


def test_the_unlabeled_test_csv_gives_no_labels():
    x, y = read_digit_csv(csv_text(None, np.zeros((3, 784), dtype=int)).encode())
    assert x.shape == (3, 28, 28, 1) and y is None


def test_any_square_pixel_count_works_from_a_file_object():
    x, y = read_digit_csv(io.BytesIO(csv_text([0, 1], [[0] * 16, [255] * 16]).encode()))
    assert x.shape == (2, 4, 4, 1) and x[1].min() == 255


def test_the_csv_dataset_names_classes_by_their_sorted_labels(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(csv_text([7, 3, 5] * 10, np.zeros((30, 16), dtype=int)))
    data = load_dataset("csv", path=str(path), val_fraction=0)
    assert data.class_names == ("3", "5", "7")
    assert sorted(set(data.y_train.tolist())) == [0, 1, 2]


def test_the_csv_dataset_needs_labels(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text(csv_text(None, np.zeros((4, 16), dtype=int)))
    with pytest.raises(InputError, match="test.csv has no 'label' column"):
        load_dataset("csv", path=str(path))


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("label\n1\n2\n", "no pixel columns"),
        ("label,p0,p1,p2,p3,p4\n1,0,0,0,0,0\n", "has 5 pixel columns, which is not a square"),
        ("label,p0,p1,p2,p3\n", "a header but no rows"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n2,0,0,abc,0\n", "row 2, column 4 (p2) is not a number."),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n,0,0,0,0\n", "row 2, column 1 (label) is blank"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n2,0,0,0\n", "row 2, column 5 (p3) is blank"),
        ("label,p0,p1,p2,p3\n1,0,256,0,0\n", "row 1, column 3 (p1) is not a whole number from 0 to 255"),
        ("label,p0,p1,p2,p3\n1,0,0,-1,0\n", "row 1, column 4 (p2) is not a whole number from 0 to 255"),
        ("label,p0,p1,p2,p3\n1,0,0,0,2.5\n", "row 1, column 5 (p3) is not a whole number from 0 to 255"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n1.5,0,0,0,0\n", "row 2 has a label that is not a whole number from 0 to 999"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n1,0,0,0,0,0,0\n", "not a well-formed CSV"),
    ],
)
def test_a_malformed_csv_is_explained(content, message):
    with pytest.raises(InputError, match="upload.csv.*" + re.escape(message)):
        read_digit_csv(content.encode(), name="upload.csv")


def test_a_kaggle_sized_csv_parses_into_42000_images_and_labels(tmp_path):
    """Its parsing speed is benchmarks/digit_csv.py's."""
    header = ",".join(["label"] + [f"pixel{i}" for i in range(784)])
    row = ",".join(["7"] + ["0"] * 700 + ["255"] * 84)  # mostly blank paper, like real digits
    path = tmp_path / "train.csv"
    path.write_text(header + "\n" + (row + "\n") * 42_000)
    x, y = read_digit_csv(path)
    assert x.shape == (42_000, 28, 28, 1) and x.dtype == np.uint8 and (y == 7).all()
    assert (x[:, -3:] == 255).all() and (x[:, :-3] == 0).all()  # the last 84 pixels are the bottom three rows


# --- image folders and zips ----------------------------------------------------------------


def test_a_folder_of_mixed_images_becomes_padded_color_images(tmp_path):
    raw = read_image_folder(write_files(tmp_path / "faces", mixed_images()), 16)
    assert raw.x.shape == (6, 16, 16, 3) and raw.x.dtype == np.uint8
    assert raw.class_names == ("female", "male") and raw.y.tolist() == [0, 0, 0, 1, 1, 1]
    red_wide = raw.x[0]  # female/a.png: 30x20 red, so padded above and below
    assert red_wide[8, 8].tolist() == [255, 0, 0] and red_wide[0, 8].tolist() == [0, 0, 0]


def test_a_folder_of_grayscale_images_keeps_one_channel_and_defaults_to_64_pixels(tmp_path):
    raw = read_image_folder(write_files(tmp_path / "pets", gray_images()))
    assert raw.x.shape == (4, 64, 64, 1)
    assert raw.class_names == ("cats", "dogs")


def test_hidden_files_macos_junk_and_non_images_are_ignored(tmp_path):
    junk = {".DS_Store": b"junk", "cats/.hidden.png": b"junk", "cats/notes.txt": b"hi", "__MACOSX/cats/._a.png": b"junk"}
    raw = read_image_folder(write_files(tmp_path / "pets", {**gray_images(), **junk}), 8)
    assert len(raw.y) == 4 and raw.class_names == ("cats", "dogs")


def test_the_folder_dataset_loads_a_folder_through_the_registry(tmp_path):
    files = {f"{cls}/{i}.png": encode(Image.new("L", (5, 5), i * 10), "PNG") for cls in "ab" for i in range(10)}
    data = load_dataset("folder", path=str(write_files(tmp_path / "ab", files)), image_size=8, val_fraction=0.25)
    assert data.split_counts() == {"train": 12, "validation": 4, "test": 4}
    assert data.input_shape == (8, 8, 1)


@pytest.mark.parametrize("wrapper", ["", "faces/", "outer/faces/"])
def test_a_zip_file_works_with_or_without_top_level_folders(tmp_path, wrapper):
    path = tmp_path / "faces.zip"
    path.write_bytes(zip_of({f"{wrapper}{name}": data for name, data in mixed_images().items()}))
    data = load_dataset("folder", path=str(path), image_size=12, val_fraction=0, test_fraction=0.5)
    assert data.class_names == ("female", "male") and data.input_shape == (12, 12, 3)


def test_uploaded_zip_bytes_are_read_like_a_zip_file():
    raw = read_image_folder(zip_of({f"pets/{n}": d for n, d in gray_images().items()}), 10)
    assert raw.x.shape == (4, 10, 10, 1)


def test_a_folder_around_the_class_folders_is_looked_through(tmp_path):
    raw = read_image_folder(write_files(tmp_path / "download", {f"pets/{n}": d for n, d in gray_images().items()}), 8)
    assert raw.class_names == ("cats", "dogs")


@pytest.mark.parametrize("entry", ["../evil.png", "cats/../../evil.png", "/etc/evil.png", "..\\evil.png", "C:/evil.png"])
def test_a_zip_entry_pointing_outside_the_archive_refuses_the_whole_zip(entry):
    data = zip_of({**gray_images(), entry: gray_images()["cats/a.png"]})
    with pytest.raises(InputError, match=re.escape(f"contains the entry '{entry}'")):
        read_image_folder(data)


def test_a_zip_with_too_many_entries_is_refused(monkeypatch):
    monkeypatch.setattr(safe_files, "MAX_ZIP_ENTRIES", 3)
    with pytest.raises(InputError, match="holds 4 entries; at most 3"):
        read_image_folder(zip_of(gray_images()))


def test_a_zip_that_unpacks_too_large_is_refused(monkeypatch):
    monkeypatch.setattr(safe_files, "MAX_ZIP_BYTES", 100)
    with pytest.raises(InputError, match=r"unpacks to [\d,]+ bytes; at most 100 bytes are allowed"):
        read_image_folder(zip_of(gray_images()))


def test_bytes_that_are_not_a_zip_are_refused():
    with pytest.raises(InputError, match="the uploaded zip is not a valid zip file"):
        read_image_folder(b"PK but not really a zip")


def test_a_file_with_an_image_extension_that_does_not_decode_is_named(tmp_path):
    files = {**gray_images(), "dogs/broken.png": b"this is text"}
    with pytest.raises(InputError, match="dogs/broken.png in .* is not an image"):
        read_image_folder(write_files(tmp_path / "pets", files))


def test_a_decompression_bomb_in_a_zip_is_refused_by_name():
    bomb = encode(Image.new("1", (8_000, 8_000)), "PNG")  # compresses to a few kB
    with pytest.raises(InputError, match="cats/bomb.png in the uploaded zip is 8000x8000"):
        read_image_folder(zip_of({**gray_images(), "cats/bomb.png": bomb}))


def test_an_empty_class_folder_is_named(tmp_path):
    root = write_files(tmp_path / "pets", gray_images())
    (root / "birds").mkdir()
    with pytest.raises(InputError, match="Class folder 'birds' .* has no images"):
        read_image_folder(root)


def test_an_empty_class_folder_inside_a_zip_is_named():
    with pytest.raises(InputError, match="Class folder 'birds'"):
        read_image_folder(zip_of({**gray_images(), "birds/": b""}))


def test_a_single_class_is_not_enough():
    with pytest.raises(InputError, match="needs at least 2 class folders .* found 1: cats"):
        read_image_folder(zip_of({"cats/a.png": gray_images()["cats/a.png"]}))


def test_images_outside_class_folders_are_refused(tmp_path):
    files = {**gray_images(), "stray.png": gray_images()["cats/a.png"]}
    with pytest.raises(InputError, match="stray.png in .* is not inside a class folder"):
        read_image_folder(write_files(tmp_path / "pets", files))


def test_a_missing_path_is_neither_a_folder_nor_a_zip(tmp_path):
    with pytest.raises(InputError, match="is neither a folder nor a zip file"):
        read_image_folder(tmp_path / "nowhere")


@pytest.mark.parametrize("size", [0, 5000])
def test_the_image_size_must_be_reasonable(tmp_path, size):
    with pytest.raises(InputError, match="image_size must be a whole number from 1 to 1024"):
        read_image_folder(write_files(tmp_path / "pets", gray_images()), size)


def test_uploads_are_stored_by_content_and_typed_by_extension(tmp_path):
    from cnnkit.datasets import save_upload

    kind, path = save_upload(b"label,pixel0\n1,0\n", "train.CSV", tmp_path / "uploads")
    again = save_upload(b"label,pixel0\n1,0\n", "other-name.csv", tmp_path / "uploads")
    assert kind == "csv" and again == (kind, path) and path.read_bytes() == b"label,pixel0\n1,0\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/x.png", b"")
    assert save_upload(buffer.getvalue(), "faces.zip", tmp_path)[0] == "folder"


@pytest.mark.parametrize(
    "data, filename, message",
    [(b"label,pixel0,pixel1,pixel2,pixel3\n1,0,0,x,0\n", "train.csv", "train.csv: row 1, column 4 (pixel2) is not a number."),
     (b"pixel0,pixel1,pixel2,pixel3\n0,0,0,0\n", "train.csv", "train.csv has no 'label' column"),
     (zip_of({"faces/cats/a.png": b"not a png", "faces/dogs/b.png": encode(Image.new("L", (4, 4)), "PNG")}),
      "my faces.zip", "faces/cats/a.png in my faces.zip is not an image"),
     (zip_of({"faces/cats/a.txt": b""}), "my faces.zip", "my faces.zip needs at least 2 class folders")],
)
def test_messages_about_an_upload_name_the_uploaded_file_not_where_the_server_keeps_it(tmp_path, data, filename,
                                                                                        message):
    from cnnkit.datasets import load_dataset, save_upload

    dataset, stored = save_upload(data, filename, tmp_path / "uploads")
    with pytest.raises(InputError) as refused:
        load_dataset(dataset, path=str(stored))
    assert message in str(refused.value)
    assert "uploads" not in str(refused.value) and stored.stem not in str(refused.value)


def test_an_upload_keeps_the_name_it_was_last_uploaded_under_and_other_paths_are_named_as_given(tmp_path):
    from cnnkit.datasets import save_upload
    from cnnkit.datasets.uploads import shown_name

    _, stored = save_upload(b"label,pixel0\n1,0\n", "C:\\Users\\me\\train\x07.csv", tmp_path / "uploads")
    assert shown_name(stored) == "train.csv"
    save_upload(b"label,pixel0\n1,0\n", "again.csv", tmp_path / "uploads")
    assert shown_name(stored) == "again.csv"
    local = tmp_path / "mine.csv"
    assert shown_name(local) == str(local)


@pytest.mark.parametrize(
    "data, name, message",
    [(b"x", "notes.txt", "not a .csv or .zip"), (b"", "empty.csv", "empty"), (b"not a zip", "fake.zip", "not a valid zip")],
)
def test_bad_uploads_are_refused_with_a_reason(tmp_path, data, name, message):
    from cnnkit.datasets import save_upload

    with pytest.raises(InputError, match=message):
        save_upload(data, name, tmp_path)


def test_bundled_sample_pictures_load_offline_as_rgb():
    from cnnkit.datasets import sample_images

    pictures = sample_images()
    assert set(pictures) == {"china", "flower"}
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in pictures.values())


# --- hostile and bad data files ---------------------------------------------------------------


def test_a_file_that_is_not_a_kaggle_csv_is_refused_without_quoting_it(tmp_path):
    """An /etc/shadow-like file named as the CSV: the message says what was expected, never what it holds."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    with pytest.raises(InputError) as raised:
        load_dataset("csv", path=str(secret))
    message = str(raised.value)
    assert message == (f"{secret}'s first line is not a header of a 'label' column and a square number of pixel "
                       "columns such as 784 (28x28), separated by commas; it has 1 column and no 'label'.")
    assert "daemon" not in message and "$6$" not in message and "19000" not in message


def test_cell_messages_name_the_row_and_column_not_the_cell_text():
    content = "label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n2,0,secret-token,0,0\n"
    with pytest.raises(InputError, match=r"^up.csv: row 2, column 3 \(pixel1\) is not a number.$"):
        read_digit_csv(content.encode(), name="up.csv")
    odd_header = "label,pixel0,pixel1,root:x:0:0,pixel3\n1,0,0,abc,0\n"
    with pytest.raises(InputError, match=r"^up.csv: row 1, column 4 is not a number.$"):  # a header name that is no column name is not shown
        read_digit_csv(odd_header.encode(), name="up.csv")


@pytest.mark.parametrize("label", ["-3", "1e300", "1000", "2.5"])
def test_labels_outside_the_class_numbers_are_refused_with_their_row(tmp_path, label):
    path = tmp_path / "train.csv"
    path.write_text(csv_text([1, 2, label, 1], np.zeros((4, 4), dtype=int)))
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: row 3 has a label that is not a whole number from "
                                         r"0 to 999; labels must be class numbers.$"):
        load_dataset("csv", path=str(path))


@pytest.mark.parametrize("delimiter, called", [(";", "';'"), ("\t", "tab")])
def test_a_csv_with_another_delimiter_gets_one_short_line(delimiter, called):
    header = delimiter.join(["label"] + [f"pixel{i}" for i in range(784)])
    rows = [delimiter.join(["3"] + ["0"] * 784)] * 20
    with pytest.raises(InputError) as raised:
        read_digit_csv("\n".join([header, *rows]).encode(), name="train.csv")
    assert str(raised.value) == f"train.csv looks {called}-delimited: use commas."


def test_a_csv_path_over_the_upload_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "train.csv"
    with open(path, "wb") as file:
        file.truncate(uploads.MAX_UPLOAD_BYTES + 1)  # sparse: no disk used
    with pytest.raises(InputError, match=r"train.csv is 200 MB; files are limited to 200 MB.$"):
        load_dataset("csv", path=str(path))


def test_a_csv_is_read_in_chunks_with_rows_counted_across_them(monkeypatch):
    monkeypatch.setattr(digit_csv, "CSV_CHUNK_ROWS", 3)
    content = csv_text(list(range(8)), np.arange(32).reshape(8, 4)).replace("\n7,28,", "\n7,-1,")
    with pytest.raises(InputError, match=r"row 8, column 2 \(pixel0\) is not a whole number from 0 to 255"):
        read_digit_csv(content.encode(), name="up.csv")
    x, y = read_digit_csv(csv_text(list(range(8)), np.arange(32).reshape(8, 4)).encode())
    assert x.reshape(8, 4).tolist() == np.arange(32).reshape(8, 4).tolist() and y.tolist() == list(range(8))


def test_a_header_line_longer_than_any_csv_needs_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(digit_csv, "MAX_CSV_HEADER_BYTES", 100)
    path = tmp_path / "zeros.csv"
    path.write_bytes(bytes(1000))
    with pytest.raises(InputError, match="zeros.csv has no header line in its first 0 MB; expected a 'label' column"):
        read_digit_csv(path)


def test_special_files_in_a_class_folder_are_refused_by_name(tmp_path):
    root = write_files(tmp_path / "faces", gray_images())
    (root / "cats" / "zero.png").symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"cats/zero.png in .*faces is a character device, not a regular file"):
        load_dataset("folder", path=str(root))
    (root / "cats" / "zero.png").unlink()
    os.mkfifo(root / "cats" / "pipe.png")
    with pytest.raises(InputError, match=r"cats/pipe.png in .*faces is a named pipe \(FIFO\)"):
        load_dataset("folder", path=str(root))


def test_a_huge_file_named_png_is_refused_before_it_is_read(tmp_path):
    root = write_files(tmp_path / "faces", gray_images())
    with open(root / "dogs" / "huge.png", "wb") as file:
        file.truncate(3 * 2**30)  # sparse
    with pytest.raises(InputError, match=r"dogs/huge.png in .*faces is 3.0 GiB; files are limited to 64 MB."):
        load_dataset("folder", path=str(root))


def test_a_fifo_or_device_as_the_dataset_path_is_refused_promptly(tmp_path):
    os.mkfifo(tmp_path / "train.csv")
    with pytest.raises(InputError, match=r"train.csv is a named pipe \(FIFO\), not a regular file"):
        load_dataset("csv", path=str(tmp_path / "train.csv"))
    with pytest.raises(InputError, match=r"^/dev/zero is a character device, not a regular file"):
        load_dataset("csv", path="/dev/zero")
    (tmp_path / "faces.zip").symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"faces.zip is a character device"):
        load_dataset("folder", path=str(tmp_path / "faces.zip"))


def test_a_dataset_zip_with_a_symlink_or_a_duplicate_entry_is_refused(tmp_path):
    from test_safe_files import zip_with_duplicates, zip_with_symlink

    with pytest.raises(InputError, match="the uploaded zip contains the entry 'cats/shadow.png', a symbolic link"):
        read_image_folder(zip_with_symlink())
    with pytest.raises(InputError, match="the uploaded zip holds the entry 'cats/a.png' more than once"):
        read_image_folder(zip_with_duplicates())

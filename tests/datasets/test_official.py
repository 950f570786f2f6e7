"""cnnkit.datasets.official: MNIST/Fashion-MNIST IDX files, CIFAR batches, local copies and Keras downloads.

Every file is written in its real format into tmp_path; nothing is downloaded.
"""

import gzip
import os
import pickle

import numpy as np
import pytest

from cnnkit.datasets import official, CIFAR10_CLASSES, FASHION_CLASSES, load_dataset
from cnnkit.errors import InputError
from dataset_files import (
    cifar10_files,
    cifar100_files,
    cifar_pickle,
    data_root,
    write_files,
    write_idx,
    write_mnist,
    write_tar,
)

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


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


# --- Whether a load would download ------------------------------------------------------------


@pytest.fixture
def keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "keras" / "datasets"


def test_a_dataset_without_files_here_would_be_downloaded_and_the_line_says_where_it_looked(tmp_path, keras_home):
    assert official.download_needed("cifar10") == (
        f"cifar10 would have to be downloaded: its files are neither in {data_root(tmp_path) / 'cifar10'}, "
        f"{data_root(tmp_path)} nor in Keras' cache ({keras_home}).")


def test_without_a_data_dir_the_line_says_it_is_not_set(monkeypatch, keras_home):
    monkeypatch.delenv("CNNKIT_DATA_DIR")
    assert "neither in CNNKIT_DATA_DIR (not set) nor" in official.download_needed("mnist")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_in_the_data_dir_need_no_download(tmp_path, keras_home, gz):
    write_mnist(data_root(tmp_path) / "fashion-mnist", gz=gz)
    assert official.download_needed("fashion_mnist") is None
    assert official.download_needed("mnist") is not None  # another dataset's files are not its own


def test_three_of_four_idx_files_are_not_a_copy(tmp_path, keras_home):
    folder = data_root(tmp_path) / "mnist"
    write_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert official.download_needed("mnist") is not None


@pytest.mark.parametrize("packed", [True, False])
def test_cifar_batches_or_their_tarball_need_no_download(tmp_path, keras_home, packed):
    files = {f"cifar-10-batches-py/{name}": data for name, data in cifar10_files().items()}
    if packed:
        write_tar(data_root(tmp_path) / "cifar-10-python.tar.gz", files)
    else:
        write_files(data_root(tmp_path) / "cifar10", files)
    assert official.download_needed("cifar10") is None
    assert official.download_needed("cifar100") is not None


@pytest.mark.parametrize("name, cached", [("mnist", "mnist.npz"), ("fashion_mnist", "fashion-mnist/t10k-labels-idx1-ubyte.gz"),
                                          ("cifar10", "cifar-10-batches-py-target/cifar-10-batches-py")])
def test_an_earlier_keras_download_needs_no_other(keras_home, name, cached):
    (keras_home / cached).parent.mkdir(parents=True, exist_ok=True)
    (keras_home / cached).write_bytes(b"")
    assert official.download_needed(name) is None


@pytest.mark.parametrize("name", ["digits", "csv", "folder"])
def test_datasets_that_are_never_downloaded_need_no_download(name, keras_home):
    assert official.download_needed(name) is None


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



def test_bundled_sample_pictures_load_offline_as_rgb():
    from cnnkit.datasets import sample_images

    pictures = sample_images()
    assert set(pictures) == {"china", "flower"}
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in pictures.values())

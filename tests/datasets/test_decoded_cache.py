"""Decoded copies of the official dataset files: the second load skips decoding, a changed or
damaged file is decoded again, and a cache that cannot be used costs only the decoding."""

import logging
import os

import numpy as np
import pytest

from cnnkit.datasets import decoded_cache, load_dataset, official
from dataset_files import cifar10_files, write_idx, write_mnist, write_tar


@pytest.fixture()
def cache(monkeypatch, tmp_path):
    """An empty cache folder; CNNKIT_DATA_DIR holds a small MNIST."""
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(decoded_cache.CACHE_DIR_VARIABLE, str(tmp_path / "cache"))
    return tmp_path / "cache"


def copies(cache):
    return [copy for copy in cache.iterdir() if not copy.name.startswith(".")]


@pytest.fixture()
def decodes(monkeypatch):
    """The IDX files decoded from now on, by name."""
    seen, real = [], official._decode_idx

    def counted(path, ndim):
        seen.append(path.name)
        return real(path, ndim)

    monkeypatch.setattr(official, "_decode_idx", counted)
    return seen


def test_the_second_load_reads_the_decoded_copies_and_gets_the_same_data(cache, tmp_path, decodes):
    arrays = write_mnist(tmp_path / "data" / "mnist")
    first = load_dataset("mnist")
    assert len(decodes) == 4 and len(copies(cache)) == 4  # one copy per file
    second = load_dataset("mnist")
    assert len(decodes) == 4  # nothing decoded again
    assert (second.x_test[..., 0] == arrays["t10k-images-idx3-ubyte"]).all()
    assert second.fingerprint() == first.fingerprint()
    assert not second.x_test.flags.writeable  # the copy on disk can't be changed through the data


def test_a_changed_file_is_decoded_again_and_its_old_copy_removed(cache, tmp_path, decodes):
    folder = tmp_path / "data" / "mnist"
    write_mnist(folder)
    load_dataset("mnist")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels, np.full(20, 7), gz=True)
    os.utime(labels, ns=(10**18, 10**18))  # a new modification time, whatever the clock's resolution
    assert (load_dataset("mnist").y_test == 7).all()
    assert decodes[4:] == ["t10k-labels-idx1-ubyte.gz"]
    assert len(copies(cache)) == 4


def test_a_damaged_copy_is_decoded_again_and_replaced(cache, tmp_path, decodes, caplog):
    write_mnist(tmp_path / "data" / "mnist")
    expected = load_dataset("mnist").x_train
    for array in cache.glob("*/*.npy"):
        array.write_bytes(array.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger=decoded_cache.__name__):
        assert (load_dataset("mnist").x_train == expected).all()
    assert len(decodes) == 8 and "again: its decoded copy" in caplog.text
    load_dataset("mnist")
    assert len(decodes) == 8  # the rewritten copies serve the third load


def test_a_same_size_change_keeping_the_modification_time_is_decoded_again(cache, tmp_path, decodes):
    folder = tmp_path / "data" / "mnist"
    write_mnist(folder, gz=False)  # plain IDX files: new labels of the same shape have the same size
    labels = folder / "t10k-labels-idx1-ubyte"
    before = labels.stat()
    load_dataset("mnist")
    write_idx(labels, np.full(20, 7), gz=False)
    os.utime(labels, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert labels.stat().st_size == before.st_size and labels.stat().st_mtime_ns == before.st_mtime_ns
    assert (load_dataset("mnist").y_test == 7).all()
    assert decodes[4:] == ["t10k-labels-idx1-ubyte"]


def test_a_poisoned_copy_is_found_by_its_hash_decoded_again_and_said_so(cache, tmp_path, decodes, caplog):
    """Labels all set to 7 in the decoded copy, as a valid array of the same shape and type."""
    folder = tmp_path / "data" / "mnist"
    expected = write_mnist(folder)["train-labels-idx1-ubyte"]
    load_dataset("mnist", val_fraction=0.2)
    poisoned = [array for array in cache.glob("*/*.npy")
                if np.load(array).shape == expected.shape and np.array_equal(np.load(array), expected)]
    assert len(poisoned) == 1
    np.save(poisoned[0], np.full_like(np.load(poisoned[0]), 7), allow_pickle=False)
    with caplog.at_level(logging.WARNING, logger=decoded_cache.__name__):
        data = load_dataset("mnist", val_fraction=0.2)
    labels = np.concatenate([data.y_train, data.y_val])
    assert sorted(labels) == sorted(expected)
    assert decodes[4:] == ["train-labels-idx1-ubyte.gz"]  # only the poisoned copy is rebuilt
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "train-labels-idx1-ubyte.gz" in warnings[0] and str(poisoned[0]) in warnings[0]
    assert "does not match the SHA-256" in warnings[0]
    load_dataset("mnist", val_fraction=0.2)
    assert len(decodes) == 5  # the rebuilt copy serves the next load


def test_a_planted_pickle_in_a_copy_is_never_unpickled(cache, tmp_path, decodes):
    write_mnist(tmp_path / "data" / "mnist")
    load_dataset("mnist")
    for array in cache.glob("*/*.npy"):  # np.load refuses object arrays without allow_pickle
        np.save(array, np.array([print], dtype=object), allow_pickle=True)
    assert load_dataset("mnist").split_counts()["test"] == 20
    assert len(decodes) == 8


@pytest.mark.parametrize("setting", ["off", "file"])
def test_without_a_usable_cache_folder_every_load_decodes(cache, tmp_path, monkeypatch, decodes, setting):
    write_mnist(tmp_path / "data" / "mnist")
    if setting == "file":  # a path that cannot be a folder: nothing can be written there
        cache.parent.mkdir(exist_ok=True)
        cache.write_text("not a folder")
    else:
        monkeypatch.setenv(decoded_cache.CACHE_DIR_VARIABLE, "off")
    load_dataset("mnist")
    load_dataset("mnist")
    assert len(decodes) == 8
    assert not cache.is_dir() and not list(tmp_path.glob("**/.partial-*"))


def test_cifar_from_its_tarball_is_read_once_and_keeps_its_class_names(cache, tmp_path, monkeypatch):
    write_tar(tmp_path / "data" / "cifar10" / "cifar-10-python.tar.gz",
              {f"cifar-10-batches-py/{name}": data for name, data in cifar10_files().items()})
    first = load_dataset("cifar10", val_fraction=0.2)

    def never(*args):
        raise AssertionError("the tarball was read again")

    monkeypatch.setattr(official, "_read_tar_members", never)
    second = load_dataset("cifar10", val_fraction=0.2)
    assert second.class_names == first.class_names == official.CIFAR10_CLASSES
    assert (second.x_test == first.x_test).all() and second.fingerprint() == first.fingerprint()


def test_the_default_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv(decoded_cache.CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert decoded_cache.cache_dir() == tmp_path / "cnnkit" / "decoded"

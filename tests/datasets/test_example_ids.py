"""cnnkit.datasets.example_ids: every split's examples carry ids that are the same in every load with
the same arguments, change membership with the split, and lead back to the file, row or index."""

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from cnnkit.datasets import example_ids, load_dataset
from dataset_files import data_root, write_files, write_mnist
from files import encode

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


def test_ids_are_the_same_in_two_loads_with_the_same_arguments():
    first, second = (load_dataset("digits", seed=5, train_limit=300) for _ in range(2))
    for split in ("ids_train", "ids_val", "ids_test"):
        assert np.array_equal(getattr(first, split), getattr(second, split))


def test_another_seed_or_limit_changes_which_ids_are_in_the_training_split():
    base = set(load_dataset("digits", seed=5).ids_train)
    assert set(load_dataset("digits", seed=6).ids_train) != base
    limited = set(load_dataset("digits", seed=5, train_limit=300).ids_train)
    assert len(limited) == 300 and limited != base


def test_the_splits_ids_are_disjoint_and_cover_the_dataset():
    data = load_dataset("digits", seed=1)
    ids = [*data.ids_train, *data.ids_val, *data.ids_test]
    assert len(ids) == len(set(ids)) == 1797


def test_a_digits_id_is_its_index_in_sklearn_digits():
    data, images = load_dataset("digits", seed=2), load_digits().images
    for split, x in (("ids_train", data.x_train), ("ids_val", data.x_val), ("ids_test", data.x_test)):
        indices = getattr(data, split).astype(int)
        assert np.array_equal(x[..., 0], np.rint(images[indices] * (255 / 16)).astype(np.uint8))


def test_an_mnist_id_names_the_file_and_the_index_in_it(tmp_path):
    arrays = write_mnist(data_root(tmp_path) / "mnist")
    data = load_dataset("mnist", seed=3, train_limit=30)
    assert all(example_id.startswith("train/") for example_id in [*data.ids_train, *data.ids_val])
    train_index = np.array([int(example_id.removeprefix("train/")) for example_id in data.ids_train])
    assert np.array_equal(data.x_train[..., 0], arrays["train-images-idx3-ubyte"][train_index])
    assert data.ids_test.tolist() == [f"test/{index}" for index in range(20)]


def test_a_folder_id_is_the_image_path_inside_it(tmp_path):
    files = {f"{cls}/{i}.png": encode(Image.new("L", (4, 4), i * 20 + (cls == "b")), "PNG") for cls in "ab" for i in range(6)}
    data = load_dataset("folder", path=str(write_files(tmp_path / "ab", files)), image_size=4, val_fraction=0.25)
    for example_id, image in zip([*data.ids_train, *data.ids_test], [*data.x_train, *data.x_test]):
        cls, name = example_id.split("/")
        assert image[0, 0, 0] == int(name.removesuffix(".png")) * 20 + (cls == "b")


def test_positions_find_ids_in_a_split_and_name_a_missing_one():
    ids = example_ids.numbered(5, "train/")
    assert example_ids.positions(np.array(["train/3", "train/0"]), ids).tolist() == [3, 0]
    with pytest.raises(KeyError, match="train/9"):
        example_ids.positions(np.array(["train/9"]), ids)

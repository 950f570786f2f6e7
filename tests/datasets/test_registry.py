"""cnnkit.datasets.registry: the built-in datasets, their descriptions and registering new ones."""


import pytest

from cnnkit.datasets import list_datasets
from cnnkit.datasets import load_dataset
from cnnkit.datasets import register_dataset
from cnnkit.errors import InputError
from dataset_files import private_registry

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


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

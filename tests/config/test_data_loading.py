"""cnnkit.config.data_loading: a config to its data, the datasets' complaints about a setting under
that setting's on-screen label, and the split warnings the Train page shows."""

import numpy as np
import pytest

from cnnkit.config import TrainConfig
from cnnkit.config.data_loading import load_data, split_warnings
from cnnkit.datasets import Dataset, load_dataset
from cnnkit.errors import InputError


@pytest.mark.parametrize("settings, message", [
    ({"train_limit": 5}, r"^Limit training images: 5 training images can't cover 10 classes"),
    ({"val_fraction": 0.0001}, r"^Validation share: 0.0001 of the training images holds out no image at all"),
])
def test_a_setting_the_data_cant_serve_is_named_by_its_label(settings, message):
    with pytest.raises(InputError, match=message) as raised:
        load_data(TrainConfig(dataset="digits", **settings))
    assert raised.value.field == next(iter(settings))


def test_the_config_loads_the_split_it_names():
    cfg = TrainConfig(dataset="digits", seed=3, train_limit=200)
    loaded = load_data(cfg)
    direct = load_dataset("digits", seed=3, train_limit=200, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
    assert loaded.fingerprint() == direct.fingerprint() and loaded.split_counts()["train"] == 200


def _dataset(y_train, y_val, classes):
    pixels = lambda labels: np.zeros((len(labels), 2, 2, 1), "uint8")  # noqa: E731
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    return Dataset("fake", pixels(y_train), y_train, pixels(y_val), y_val, pixels(range(classes)),
                   np.arange(classes), tuple(str(c) for c in range(classes)))


def test_a_tiny_validation_split_or_a_class_without_training_images_only_warns():
    assert split_warnings(_dataset([0, 1, 2] * 5, [0, 1], 3)) == [
        "Validation has only 2 images for 3 classes, so its loss and accuracy will jump about; raise the "
        "Validation share for steadier curves."]
    assert split_warnings(_dataset([0, 1, 2] * 5, [0, 1, 2], 3)) == []
    assert split_warnings(_dataset([0, 1, 2] * 5, [], 3)) == []  # no validation asked for: nothing to warn
    assert split_warnings(_dataset([0, 1] * 10, [], 3)) == [
        "No training image of 1 of the 3 classes (2): the network can't learn them."]
    assert split_warnings(load_dataset("digits")) == []


def test_excluded_examples_reach_the_data_and_their_problems_name_the_label():
    base = load_data(TrainConfig(train_limit=200))
    data = load_data(TrainConfig(train_limit=200, exclude_examples=tuple(base.ids_train[:4].tolist())))
    assert data.split_counts() == {**base.split_counts(), "train": 196}
    with pytest.raises(InputError, match=f"^Exclude examples: '{base.ids_test[0]}' is in the test split") as refused:
        load_data(TrainConfig(train_limit=200, exclude_examples=(str(base.ids_test[0]),)))
    assert refused.value.field == "exclude_examples"


def test_relabelled_examples_reach_the_data_and_a_corrected_copy_whose_problems_name_the_label(tmp_path):
    from cnnkit.config.data_loading import write_relabelled_copy
    from cnnkit.datasets import read_digit_csv
    from dataset_files import csv_text

    original = tmp_path / "train.csv"
    original.write_text(csv_text(np.repeat(np.arange(3), 10), np.random.default_rng(0).integers(0, 256, (30, 4))))
    base = TrainConfig(dataset="csv", dataset_path=str(original), val_fraction=0.2, test_fraction=0.2)
    plain = load_data(base)
    chosen = plain.ids_train[0]
    given = plain.y_train[0]
    cfg = base.replace(relabel_examples=(f"{chosen},{(given + 1) % 3}",))
    data = load_data(cfg)
    assert data.y_train[0] == (given + 1) % 3 and np.array_equal(data.y_test, plain.y_test)
    assert write_relabelled_copy(base, plain) is None
    _, labels = read_digit_csv(str(write_relabelled_copy(cfg, data)))
    assert labels[int(chosen)] == (given + 1) % 3
    with pytest.raises(InputError, match=r"^Relabel examples: '\d+' is in the test split") as refused:
        load_data(base.replace(relabel_examples=(f"{plain.ids_test[0]},1",)))
    assert refused.value.field == "relabel_examples"
    with pytest.raises(InputError, match="^Relabel examples: '7' is no class of this dataset; its classes are 0, 1, 2"):
        load_data(base.replace(relabel_examples=(f"{chosen},7",)))


def test_a_relabelled_folder_datasets_copy_moves_the_image_and_keeps_its_id(tmp_path):
    from PIL import Image

    from cnnkit.config.data_loading import write_relabelled_copy
    from cnnkit.datasets import read_image_folder
    from dataset_files import write_files
    from files import encode

    files = {f"pets/{kind}/{kind}{n}.png": encode(Image.new("L", (8, 8), shade + n), "PNG")
             for kind, shade in (("cats", 10), ("dogs", 120), ("owls", 220)) for n in range(8)}
    root = write_files(tmp_path / "photos", files)
    base = TrainConfig(dataset="folder", dataset_path=str(root), image_size=8, val_fraction=0.2, test_fraction=0.25)
    plain = load_data(base)
    chosen = next(i for i, y in zip(plain.ids_train.tolist(), plain.y_train) if plain.class_names[y] == "cats")
    data = load_data(base.replace(relabel_examples=(f"{chosen},owls",)))
    assert data.relabelled == ((chosen, "cats", "owls"),) and chosen in data.ids_train.tolist()
    copy = write_relabelled_copy(base, data)
    moved = chosen.replace("/cats/", "/owls/")
    raw = read_image_folder(copy, 8)
    assert dict(zip(raw.ids.tolist(), raw.y.tolist()))[moved] == raw.class_names.index("owls")
    assert (copy / moved).read_bytes() == (root / chosen).read_bytes() and (root / chosen).is_file()

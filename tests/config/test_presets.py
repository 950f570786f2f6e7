"""cnnkit.config.presets: the seeds' experiments as named configs."""

import pytest

from cnnkit.config import ServerPaths
from cnnkit.config.presets import PRESETS, Preset, get_preset, list_presets, unavailable_data
from cnnkit.errors import InputError
from cnnkit.models.architectures import ARCHITECTURES


def test_every_preset_is_a_valid_config():
    for preset in PRESETS.values():
        cfg = preset.config()
        assert cfg.dataset and cfg.arch in ARCHITECTURES, preset.name


def test_seed_presets_carry_the_write_ups_settings():
    assert get_preset("seed000_cyclic").config().schedule == "cyclic"
    augmented = get_preset("seed002_augmented").config()
    assert (augmented.rotation, augmented.zoom, augmented.translate, augmented.schedule) == (10, 0.05, 0.05, "plateau")
    assert get_preset("seed001_kaggle_mnist").config().val_fraction == 0.08


def test_an_unknown_preset_is_an_input_error_listing_the_known_ones():
    with pytest.raises(InputError, match=r"Unknown preset 'seed999'\. Known presets: mnist_quick, seed000_baseline, "):
        get_preset("seed999")


def test_overrides_change_only_the_named_settings():
    preset = get_preset("seed000_cyclic")
    changed = preset.config(epochs=3)
    assert changed.epochs == 3 and preset.config().epochs == 300
    assert changed.max_lr == 0.007 and changed.dataset == "cifar10"


def test_list_presets_describes_every_preset_in_order():
    rows = list_presets()
    assert [row["name"] for row in rows] == list(PRESETS)
    assert {row["seed"] for row in rows} >= {"000", "001", "002"}
    assert all(row["description"] and row["settings"] == PRESETS[row["name"]].settings for row in rows)


# ---- whether a preset's data is here ---------------------------------------------------

@pytest.fixture
def empty_machine(monkeypatch, tmp_path):
    """No dataset copies and no Keras downloads; returns the data dir."""
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "data"


def app_paths(tmp_path, data_dir) -> ServerPaths:
    return ServerPaths(True, tmp_path / "uploads", (tmp_path / "uploads", data_dir))


def test_digits_is_always_here_and_mnist_once_its_files_are(empty_machine, tmp_path):
    paths = app_paths(tmp_path, empty_machine)
    assert unavailable_data(Preset("d", "", "", {"dataset": "digits"}), paths) is None
    mnist = get_preset("seed002_baseline")
    assert unavailable_data(mnist, paths).startswith("mnist would have to be downloaded")
    (empty_machine / "mnist").mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (empty_machine / "mnist" / f"{stem}.gz").write_bytes(b"")
    assert unavailable_data(mnist, paths) is None


def test_a_keras_download_from_before_makes_cifar10_available(empty_machine, tmp_path):
    preset = get_preset("seed000_baseline")
    assert "cifar10 would have to be downloaded" in unavailable_data(preset, app_paths(tmp_path, empty_machine))
    (tmp_path / "keras" / "datasets" / "cifar-10-batches-py-target").mkdir(parents=True)
    assert unavailable_data(preset, app_paths(tmp_path, empty_machine)) is None


def test_a_folder_preset_needs_its_folder_inside_the_allowed_ones(empty_machine, tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    faces = get_preset("seed003_faces")  # data/faces, relative: under the working directory, no allowed folder
    assert "data/faces is outside the folders this app reads from" in unavailable_data(faces, app_paths(tmp_path, empty_machine))
    inside = Preset("f", "", "", {**faces.settings, "dataset_path": str(empty_machine / "faces")})
    assert unavailable_data(inside, app_paths(tmp_path, empty_machine)) == (
        f"Path on this machine: {empty_machine / 'faces'} is not on this machine.")
    (empty_machine / "faces").mkdir(parents=True)
    assert unavailable_data(inside, app_paths(tmp_path, empty_machine)) is None
    (tmp_path / "elsewhere" / "data" / "faces").mkdir(parents=True)
    assert unavailable_data(faces, ServerPaths.anywhere()) is None  # the command line: any path that is there


def test_training_fetches_an_official_dataset_but_not_a_folder():
    from cnnkit.config.presets import fetched_when_trained
    assert fetched_when_trained(get_preset("seed000_baseline")) and fetched_when_trained(get_preset("mnist_quick"))
    assert not fetched_when_trained(get_preset("seed003_faces"))

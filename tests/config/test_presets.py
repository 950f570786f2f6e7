"""cnnkit.config.presets: the seeds' experiments as named configs."""

import pytest

from cnnkit.config.presets import PRESETS, get_preset, list_presets
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
    with pytest.raises(InputError, match=r"Unknown preset 'seed999'\. Known presets: seed000_baseline, "):
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

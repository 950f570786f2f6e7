"""The settings declaration: one entry per config field, consistent with the config's types and defaults."""

import dataclasses
import typing

import pytest

from cnnkit.config import TrainConfig, field_names
from cnnkit.errors import InputError
from cnnkit.config.settings import (
    SCHEDULE_SETTINGS, SETTINGS, TABS, command_line_message, label, problem_counts, setting_error, settings_on,
)


def test_every_config_field_is_declared_once_on_a_tab_and_nothing_else():
    assert sorted(SETTINGS) == sorted(field_names())
    assert all(setting.tab in TABS for setting in SETTINGS.values())
    assert sum(len(settings_on(tab)) for tab in TABS) == len(SETTINGS)
    assert len({setting.label for setting in SETTINGS.values()}) == len(SETTINGS)  # messages can't be ambiguous


def test_number_bounds_have_the_fields_type_so_form_controls_take_them_as_they_are():
    kinds = typing.get_type_hints(TrainConfig)
    for setting in SETTINGS.values():
        if setting.control in ("number", "slider"):
            kind = next(arg for arg in (*typing.get_args(kinds[setting.name]), kinds[setting.name])
                        if arg in (int, float))
            for bound in (setting.low, setting.high, setting.off):
                assert bound is None or type(bound) is kind, setting.name


def test_every_default_passes_its_own_declaration():
    for field in dataclasses.fields(TrainConfig):
        assert SETTINGS[field.name].problem(field.default) is None, field.name


@pytest.mark.parametrize("name, value, expected", [
    ("epochs", 0, "must be between 1 and 100000, got 0."),
    ("learning_rate", 0.0, "must be above 0 and at most 10, got 0."),
    ("ema_momentum", 0.3, "use 0 (off) or a value between 0.5 and 0.99999, got 0.3."),
    ("optimizer", "lion", "'lion' is not one of sgd, rmsprop, adam, adamw."),
])
def test_a_value_outside_its_declaration_is_explained(name, value, expected):
    assert SETTINGS[name].problem(value) == expected
    assert SETTINGS["ema_momentum"].problem(0.0) is None  # 0 switches weight averaging off


def test_each_schedule_uses_only_its_own_settings():
    values = TrainConfig(schedule="cyclic").to_dict()
    shown = {name for name in SETTINGS if name in sum(SCHEDULE_SETTINGS.values(), ()) and SETTINGS[name].is_used(values)}
    assert shown == {"max_lr", "cyclic_mode", "cycle_epochs"}  # gamma only for exp_range
    assert SETTINGS["cyclic_gamma"].is_used({**values, "cyclic_mode": "exp_range"})
    plateau = TrainConfig(schedule="plateau").to_dict()
    assert not SETTINGS["max_lr"].is_used(plateau) and SETTINGS["plateau_patience"].is_used(plateau)
    assert all(name in SETTINGS for names in SCHEDULE_SETTINGS.values() for name in names)


@pytest.mark.parametrize("optimizer, momentum, weight_decay", [
    ("sgd", True, False), ("rmsprop", False, False), ("adam", False, False), ("adamw", False, True),
])
def test_momentum_and_weight_decay_matter_only_for_the_optimizers_that_use_them(optimizer, momentum, weight_decay):
    values = TrainConfig(optimizer=optimizer).to_dict()
    assert SETTINGS["momentum"].is_used(values) is momentum
    assert SETTINGS["weight_decay"].is_used(values) is weight_decay


def test_the_test_share_is_unused_with_an_official_test_split_and_says_why():
    assert SETTINGS["test_fraction"].is_used(TrainConfig(dataset="digits").to_dict())
    assert not SETTINGS["test_fraction"].is_used(TrainConfig(dataset="mnist").to_dict())
    assert "official test" in SETTINGS["test_fraction"].unused_note


def test_errors_name_the_label_on_screen_and_the_command_line_adds_the_field_name():
    error = setting_error("max_lr", "must be above 0 and at most 10, got 0.")
    assert (str(error), error.field) == ("Peak rate: must be above 0 and at most 10, got 0.", "max_lr")
    assert command_line_message(error) == "Peak rate (max_lr): must be above 0 and at most 10, got 0."
    assert command_line_message(InputError("Unknown preset 'x'.")) == "Unknown preset 'x'."
    assert label("train_limit") == "Limit training images" and label("not_a_setting") == "not_a_setting"


def test_problems_are_counted_per_tab_in_tab_order():
    assert problem_counts(["max_lr", "train_limit", "epochs"]) == {"data": 1, "model": 0, "tricks": 0, "optimiser": 2}
    assert list(problem_counts([])) == list(TABS)

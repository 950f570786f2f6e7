import hashlib
import json

import pytest

from cnnkit import InputError
from cnnkit.config import (
    TrainConfig, assignments_from_text, changed_settings, describe_run, excluded_count, field_names, find_problems,
    settings_from_text,
    significant, split_list,
)
from cnnkit.config.settings import label


def test_defaults_are_valid_and_train_offline_on_digits():
    cfg = TrainConfig()
    assert cfg.dataset == "digits"


@pytest.mark.parametrize("value, digits, scale, rounded", [
    (0.0007501954443620128, 3, None, 0.00075), (0.0012345, 2, None, 0.0012), (123456.0, 3, None, 123000.0),
    (0.123456, 3, 0.04, 0.1235), (0.0, 3, None, 0.0), (-0.0456, 2, None, -0.046),
])
def test_significant_keeps_the_digits_asked_for(value, digits, scale, rounded):
    assert significant(value, digits, scale) == rounded


def test_config_is_frozen():
    with pytest.raises(Exception):
        TrainConfig().epochs = 3  # type: ignore[misc]


def test_json_round_trip_gives_an_equal_config():
    cfg = TrainConfig(arch="mnist_cnn", epochs=3, activation="elu", batch_norm=True, schedule="cyclic", max_lr=0.01)
    assert TrainConfig.from_json(cfg.to_json()) == cfg


def test_mlflow_params_round_trip_gives_an_equal_config():
    cfg = TrainConfig(rotation=10, learning_rate=3e-4, batch_norm=False, activation=None, early_stopping=2)
    params = cfg.to_params()
    assert all(isinstance(value, str) for value in params.values())
    assert set(params) == set(field_names())
    assert TrainConfig.from_params({**params, "unrelated": "x"}) == cfg


def test_key_value_settings_are_parsed_to_field_types():
    cfg = TrainConfig().with_settings(["epochs=3", "learning_rate=0.01", "batch_norm=true", "activation=leaky_relu"])
    assert (cfg.epochs, cfg.learning_rate, cfg.batch_norm, cfg.activation) == (3, 0.01, True, "leaky_relu")


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"arch": "vgg99"}, "arch"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"activation": "tanh"}, "activation"),
        ({"val_fraction": 0.95}, "val_fraction"),
        ({"schedule": "cyclic", "learning_rate": 0.01, "max_lr": 0.001}, "max_lr"),
        ({"dataset": "csv"}, "dataset_path"),
        ({"val_fraction": 0, "schedule": "plateau"}, "plateau_monitor"),
        ({"val_fraction": 0, "early_stopping": 3}, "early_stopping"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"precision": "float8"}, "precision"),
        ({"ema_momentum": 0.3}, "ema_momentum"),
        ({"ema_momentum": 1.0}, "ema_momentum"),
        ({"steps_per_execution": 0}, "steps_per_execution"),
    ],
)
def test_invalid_settings_raise_an_input_error_naming_the_field(changes, field):
    with pytest.raises(InputError) as raised:
        TrainConfig(**changes)
    assert raised.value.field == field  # so a form can show it next to that control ...
    assert str(raised.value).startswith(f"{label(field)}: ")  # ... and a person reads the label on screen
    assert field not in str(raised.value)


def test_text_that_is_not_a_number_is_rejected_with_the_field_name():
    with pytest.raises(InputError, match="Epochs: 'ten' is not a valid whole number"):
        TrainConfig().with_settings(["epochs=ten"])


def test_unknown_settings_and_malformed_assignments_are_rejected():
    with pytest.raises(InputError, match="Unknown setting"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(InputError, match="key=value"):
        TrainConfig().with_settings(["epochs"])
    with pytest.raises(InputError, match="JSON"):
        TrainConfig.from_json("{not json")


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)
    assert json.loads(TrainConfig().to_json())["dataset"] == "digits"


def test_speed_and_averaging_settings_parse_from_text_as_the_cli_and_mlflow_give_them():
    cfg = TrainConfig().with_settings(["precision=mixed_bfloat16", "ema_momentum=0.999", "test_time_flip=true",
                                       "steps_per_execution=8"])
    assert (cfg.precision, cfg.ema_momentum, cfg.test_time_flip, cfg.steps_per_execution) == ("mixed_bfloat16", 0.999, True, 8)
    assert TrainConfig.from_params(cfg.to_params()) == cfg
    assert TrainConfig(ema_momentum=0.0).ema_momentum == 0.0  # 0 = off is valid


def test_find_problems_reports_every_problem_at_once_one_per_setting():
    problems = find_problems({"epochs": 0, "learning_rate": "fast", "schedule": "cyclic", "max_lr": 1e-4,
                              "val_fraction": 0, "early_stopping": 2})
    assert set(problems) == {"epochs", "learning_rate", "max_lr", "early_stopping"}
    assert str(problems["learning_rate"]) == "Learning rate: 'fast' is not a valid number."
    assert str(problems["max_lr"]).startswith("Peak rate: the cyclic schedule climbs from the Learning rate (0.001)")
    assert "Validation share" in str(problems["early_stopping"])
    assert find_problems(TrainConfig(schedule="cyclic").to_dict()) == {}


def test_non_default_settings_round_trip_through_text_as_a_url_carries_them():
    cfg = TrainConfig(epochs=3, val_fraction=0.25, batch_norm=False, activation="elu", learning_rate=3e-4,
                      schedule="one_cycle", max_lr=0.0123456789)
    text = changed_settings(cfg.to_dict())
    assert text == {"epochs": "3", "val_fraction": "0.25", "batch_norm": "false", "activation": "elu",
                    "learning_rate": "0.0003", "schedule": "one_cycle", "max_lr": "0.0123456789"}
    values, problems = settings_from_text({**text, "job": "job-3"})  # other query parameters are left out
    assert problems == [] and TrainConfig.from_dict(values) == cfg
    assert changed_settings(TrainConfig().to_dict()) == {}


def test_settings_from_text_keeps_the_readable_ones_and_names_the_rest():
    values, problems = settings_from_text({"epochs": "ten", "seed": "4", "batch_norm": "default", "optimizer": "lion",
                                           "batch_size": "0", "learning_rate": "nan"})
    assert values == {"seed": 4, "batch_norm": None}
    assert sorted((problem.field, str(problem)) for problem in problems) == [
        ("batch_size", "Batch size: must be between 1 and 65536, got 0."),
        ("epochs", "Epochs: 'ten' is not a valid whole number."),
        ("learning_rate", "Learning rate: expected a finite number, got nan."),
        ("optimizer", "Optimizer: 'lion' is not one of sgd, rmsprop, adam, adamw."),
    ]


def test_describe_run_tells_runs_apart_in_one_line():
    assert describe_run(TrainConfig().to_params()) == "kaggle_mnist_cnn on digits · 5 epochs · adam 0.001"
    cfg = TrainConfig(arch="mnist_cnn", epochs=1, train_limit=300, schedule="cyclic", rotation=10, optimizer="sgd",
                      momentum=0.5)
    assert describe_run(cfg.to_dict()) == ("mnist_cnn on digits · 300 training images · 1 epoch · sgd 0.001 momentum 0.5"
                                           " · cyclic · rot 10°")
    assert "momentum" not in describe_run(TrainConfig(optimizer="rmsprop", momentum=0.5).to_params())  # rmsprop ignores it


@pytest.mark.parametrize("text", ["a, b", "a b", "a,b", " a ,b ,", "a,\tb"])
def test_a_typed_list_may_separate_its_items_by_commas_spaces_or_both(text):
    assert split_list(text) == ["a", "b"]


@pytest.mark.parametrize("text", ["epochs=1, flip=none", "epochs=1 flip=none", "epochs=1,flip=none",
                                  "epochs = 1 , flip= none,"])
def test_typed_settings_may_be_separated_by_commas_spaces_or_both(text):
    assert assignments_from_text(text) == {"epochs": "1", "flip": "none"}


def test_a_typed_value_runs_to_the_next_setting_so_a_path_keeps_its_spaces_and_a_bare_word_is_refused():
    assert assignments_from_text("dataset_path=/my data/a.csv, epochs=2") == {"dataset_path": "/my data/a.csv", "epochs": "2"}
    assert assignments_from_text("  ") == {}
    with pytest.raises(InputError, match="'epochs 2' is not key=value"):
        assignments_from_text("epochs 2")


# --- excluded examples ---------------------------------------------------------------------


def test_excluded_ids_are_each_kept_once_in_one_order_however_they_are_given():
    typed = TrainConfig.from_dict({"exclude_examples": "train/7, train/1,train/7"})
    assert typed.exclude_examples == ("train/1", "train/7")
    assert TrainConfig(exclude_examples=["train/7", "train/1", "train/1"]) == typed
    assert TrainConfig.from_dict({"exclude_examples": "train/7\ntrain/1\n\n"}) == typed
    assert TrainConfig.from_json(typed.to_json()) == typed
    assert TrainConfig().exclude_examples == ()


def test_a_line_each_keeps_an_id_with_a_comma_whole():
    assert TrainConfig.from_dict({"exclude_examples": "cats/a,b.png\ndogs/c.png"}).exclude_examples == (
        "cats/a,b.png", "dogs/c.png")


def test_the_param_holds_the_count_and_digest_never_the_ids():
    ids = tuple(f"train/{i}" for i in range(2000))  # far more than MLflow's 6,000 characters as text
    params = TrainConfig(exclude_examples=ids).to_params()
    count, digest = params["exclude_examples"].split(", sha256 ")
    assert count == "2,000 examples" and len(digest) == 64 and len(params["exclude_examples"]) < 100
    assert digest == hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    assert TrainConfig().to_params()["exclude_examples"] == ""


def test_params_rebuild_the_config_only_with_the_ids_they_recorded():
    cfg = TrainConfig(exclude_examples=("train/1", "train/7"))
    assert TrainConfig.from_params(cfg.to_params(), excluded=["train/7", "train/1"]) == cfg
    with pytest.raises(InputError, match="Exclude examples: the run excluded 2 examples") as missing:
        TrainConfig.from_params(cfg.to_params())
    assert missing.value.field == "exclude_examples"
    with pytest.raises(InputError, match="are not those the run recorded"):
        TrainConfig.from_params(cfg.to_params(), excluded=["train/1", "train/8"])
    assert TrainConfig.from_params({"epochs": "2"}) == TrainConfig(epochs=2)  # a run from before the setting


def test_an_id_that_is_no_line_is_refused_under_the_label():
    with pytest.raises(InputError, match="Exclude examples: .* is not an example id"):
        TrainConfig(exclude_examples=("x" * 1001,))
    assert find_problems({"exclude_examples": "a" * 1001})["exclude_examples"].field == "exclude_examples"


def test_excluded_ids_travel_as_text_and_are_counted_in_the_run_line():
    cfg = TrainConfig(exclude_examples=("train/1", "train/7"))
    assert changed_settings(cfg.to_dict()) == {"exclude_examples": "train/1,train/7"}
    assert settings_from_text({"exclude_examples": "train/1,train/7"})[0] == {"exclude_examples": cfg.exclude_examples}
    assert "without 2 examples" in describe_run(cfg.to_params()) == describe_run(cfg.to_dict())
    assert excluded_count("1,2,3") == 3 and excluded_count(cfg.to_params()["exclude_examples"]) == 2

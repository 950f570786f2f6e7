"""cnnkit.explorer.train_plan: what the Train page shows about the form, without Streamlit."""

import numpy as np
import pytest

from cnnkit.config import TrainConfig
from cnnkit.config.settings import SETTINGS, TABS
from cnnkit.errors import InputError
from cnnkit.explorer import train_plan

DIGITS = {**TrainConfig(dataset="digits", train_limit=200).to_dict()}


class Paths:
    """Stands in for ServerPaths: refuses every path, naming the setting."""

    def __init__(self):
        self.checked = []

    def check(self, path):
        self.checked.append(path)
        raise InputError(f"{path} is outside the allowed folders", field="dataset_path")


@pytest.fixture(scope="module")
def digits():
    return train_plan.load_split(*(DIGITS[name] for name in train_plan.DATA_SETTINGS))


def test_form_data_loads_the_split_of_the_data_settings_in_order():
    seen = []
    data, problem = train_plan.form_data(DIGITS, Paths(), load=lambda *settings: seen.append(settings) or "split")
    assert (data, problem) == ("split", None)
    assert seen == [("digits", "", 0, DIGITS["val_fraction"], DIGITS["test_fraction"], DIGITS["seed"], 200, (), ())]


def test_form_data_checks_a_path_before_reading_and_gives_back_the_problem():
    paths, read = Paths(), []
    data, problem = train_plan.form_data({**DIGITS, "dataset": "csv", "dataset_path": "/etc/passwd"}, paths,
                                         load=lambda *settings: read.append(settings))
    assert data is None and problem.field == "dataset_path" and paths.checked == ["/etc/passwd"] and not read


def test_a_data_problem_without_a_field_lands_on_the_file_or_the_dataset_setting():
    unreadable = InputError("cannot read it")
    assert set(train_plan.form_problems(DIGITS, None)) == set()
    assert "dataset" in train_plan.form_problems(DIGITS, unreadable)
    assert "dataset_path" in train_plan.form_problems({**DIGITS, "dataset": "csv", "dataset_path": "x.csv"}, unreadable)
    settings_own = train_plan.form_problems({**DIGITS, "schedule": "cosine", "min_lr": 1.0}, InputError("x", "seed"))
    assert set(settings_own) == {"min_lr", "seed"}


def test_problem_places_name_each_setting_and_its_tab_in_the_forms_order():
    places = train_plan.problem_places({"min_lr": "late", "dataset": "early"})
    assert places == [(SETTINGS[name].label, TABS[SETTINGS[name].tab]) for name in ("dataset", "min_lr")]
    assert places[0][1] != places[1][1]  # the data's tab, then the optimiser's


def test_class_counts_count_every_class_in_every_split(digits):
    counts = train_plan.class_counts(digits)
    assert list(counts["split"].unique()) == ["train", "validation", "test"]
    assert len(counts) == 3 * digits.num_classes
    totals = counts.groupby("split", sort=False)["count"].sum().to_dict()
    assert totals == digits.split_counts()


def test_augmentation_picks_the_first_image_of_the_first_four_classes(digits):
    picks = train_plan.augmentation_picks(digits)
    assert [int(digits.y_train[i]) for i in picks] == [0, 1, 2, 3]
    assert all(not np.any(digits.y_train[:i] == digits.y_train[i]) for i in picks)


def test_the_planned_learning_rate_has_one_value_per_step_of_the_run():
    cfg = TrainConfig(dataset="digits", epochs=3, batch_size=64, schedule="cosine", min_lr=1e-5)
    steps, rates = train_plan.planned_learning_rate(cfg, 130)
    assert steps == 3 and len(rates) == 9 and rates[0] == pytest.approx(cfg.learning_rate) and rates[-1] < rates[0]


def test_layers_count_the_parameters_of_the_forms_network(digits):
    table, parameters = train_plan.layers("kaggle_mnist_cnn", digits.input_shape, digits.num_classes, None, None, 1.0, 1.0)
    assert len(table) > 3 and parameters > 1000


def test_the_disk_note_says_snapshots_are_off_or_what_they_take(digits):
    assert train_plan.disk_note(TrainConfig(dataset="digits"), 1000, digits) == "Snapshots are off."
    assert "snapshot" in train_plan.disk_note(TrainConfig(dataset="digits", snapshot_every=1), 1000, digits)


def test_the_excluded_examples_are_counted_in_words():
    assert train_plan.excluded_note(("train/1",) * 1) == "1 example excluded from training"
    assert train_plan.excluded_note(tuple(map(str, range(37)))) == "37 examples excluded from training"
    assert train_plan.excluded_note(()) == "No example excluded."


def test_a_few_excluded_ids_go_into_the_address_and_thousands_stay_out_with_a_note():
    few = {**DIGITS, "exclude_examples": ("train/1", "train/7")}
    assert train_plan.address_settings(few) == ({"train_limit": "200", "exclude_examples": "train/1,train/7"}, {})
    many = {**DIGITS, "exclude_examples": tuple(f"train/{i}" for i in range(5000))}
    wanted, notes = train_plan.address_settings(many)
    assert wanted == {"train_limit": "200"} and list(notes) == ["exclude_examples"]
    assert "5,000 excluded ids are too many for the address bar" in notes["exclude_examples"]


def test_many_relabelled_examples_stay_out_of_the_address_bar_too():
    many = {**DIGITS, "relabel_examples": tuple(f"{i},1" for i in range(2000))}
    wanted, notes = train_plan.address_settings(many)
    assert wanted == {"train_limit": "200"} and list(notes) == ["relabel_examples"]  # the note under its own box only
    assert "2,000 relabelled examples are too many for the address bar" in notes["relabel_examples"]
    few = {**DIGITS, "relabel_examples": ("3,1", "45,7")}
    assert train_plan.address_settings(few) == ({"train_limit": "200", "relabel_examples": "3,1\n45,7"}, {})


def test_the_note_under_the_box_counts_them_and_those_also_excluded():
    assert train_plan.relabelled_note(("3,1", "45,7")) == "2 training examples relabelled"
    assert train_plan.relabelled_note(("3,1", "45,7"), ("45", "9")) == (
        "1 training example relabelled (1 more also excluded: left out, so not relabelled)")
    assert train_plan.relabelled_note(()) == "No example relabelled."

"""cnnkit.config.relabelled_examples: the Relabel examples setting's `id,new_label` lines typed, read from a file
for the command line, refused before any data is read, and recorded as a run's param."""

import numpy as np
import pandas as pd
import pytest

from cnnkit.config import (
    TrainConfig, describe_run, load_data, excluded_param, find_problems, relabel_lines, relabels, relabels_csv,
    relabels_of_file_text, value_text, with_id_files,
)
from cnnkit.errors import InputError
from cnnkit.explorer import label_issues
from dataset_files import csv_text

CSV = {"dataset": "csv", "dataset_path": "train.csv"}


def test_typed_lines_split_at_their_last_comma_each_once_sorted():
    assert relabel_lines(" 45 , 7\n\ncats/a,b.png,dogs\n45,7\n") == ("45,7", "cats/a,b.png,dogs")
    assert relabels(relabel_lines("45,7\ncats/a,b.png,dogs")) == {"45": "7", "cats/a,b.png": "dogs"}
    assert relabel_lines("") == ()


def test_the_config_keeps_them_as_lines_in_every_round_trip():
    cfg = TrainConfig.from_dict({**CSV, "relabel_examples": "45,7\n3, 1"})
    assert cfg.relabel_examples == ("3,1", "45,7")
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    assert TrainConfig.from_dict({**CSV, "relabel_examples": value_text(cfg.relabel_examples)}) == cfg
    assert TrainConfig.from_dict({**CSV, "relabel_examples": "45,7"}).relabel_examples == ("45,7",)  # one line
    assert cfg.to_params()["relabel_examples"] == excluded_param(("3,1", "45,7"))
    assert TrainConfig.from_params(cfg.to_params(), relabelled=["45,7", "3,1"]) == cfg
    with pytest.raises(InputError, match="^Relabel examples: the run relabelled 2 examples") as missing:
        TrainConfig.from_params(cfg.to_params())
    assert missing.value.field == "relabel_examples"
    assert "2 relabelled" in describe_run(cfg.to_params())
    assert " 1 relabelled " in describe_run({**CSV, "relabel_examples": ("45,7",)})  # a form's line, not 2 ids


@pytest.mark.parametrize("values, says", [
    ({"relabel_examples": "45,7"}, "'digits' is neither: its files stay as they are. Use Exclude examples"),
    ({"dataset": "mnist", "relabel_examples": "train/4,7"}, "'mnist' is neither"),
    ({**CSV, "relabel_examples": "45"}, "'45' is not `id,new_label`"),
    ({**CSV, "relabel_examples": "45,\n3,1"}, "'45,' is not `id,new_label`"),
    ({**CSV, "relabel_examples": "45,7\n45,8"}, "'45' is given two new labels, '7' and '8': keep one"),
])
def test_lines_that_cant_be_right_are_refused_under_the_label_before_any_data_is_read(values, says):
    with pytest.raises(InputError) as refused:
        TrainConfig.from_dict(values)
    assert str(refused.value).startswith("Relabel examples: ") and says in str(refused.value)
    assert refused.value.field == "relabel_examples"
    assert set(find_problems(values)) == {"relabel_examples"}


def test_a_file_gives_id_and_new_label_columns_or_a_label_issues_export_its_suggestions(tmp_path):
    plain = tmp_path / "relabel.csv"
    plain.write_text(relabels_csv(("cats/a,b.png,dogs", "dogs/c.png,cats")))
    assert with_id_files({"relabel_examples": f"@{plain}", "epochs": "1"}) == {
        "relabel_examples": ("cats/a,b.png,dogs", "dogs/c.png,cats"), "epochs": "1"}
    issues = pd.DataFrame({"rank": [1, 2], "split": ["training", "training"], "id": ["12", "40"],
                           "given_label": ["1", "4"], "suggested_label": ["7", "9"], "score": [0.01, 0.02]})
    export = tmp_path / "issues.csv"
    export.write_bytes(label_issues.to_csv(issues))
    assert with_id_files({"relabel_examples": f"@{export}"})["relabel_examples"] == ("12,7", "40,9")
    lines = tmp_path / "lines.txt"
    lines.write_text("12,7\n40,9\n")
    assert relabels_of_file_text(lines.read_text()) == ("12,7", "40,9")


def test_a_file_that_cant_be_read_is_named_under_the_label(tmp_path):
    with pytest.raises(InputError, match="^Relabel examples: can't read .*gone.csv") as refused:
        with_id_files({"relabel_examples": f"@{tmp_path / 'gone.csv'}"})
    assert refused.value.field == "relabel_examples"


def test_a_label_audit_of_a_relabelling_run_excludes_each_fold_relabelled_examples_included(tmp_path):
    from cnnkit.experiments import label_audit

    original = tmp_path / "train.csv"
    original.write_text(csv_text(np.repeat(np.arange(3), 12), np.random.default_rng(0).integers(0, 256, (36, 4))))
    base = TrainConfig(dataset="csv", dataset_path=str(original), val_fraction=0.2, test_fraction=0.2)
    chosen = load_data(base).ids_train[:2].tolist()
    cfg = base.replace(relabel_examples=tuple(f"{example_id},2" for example_id in chosen))
    folds = label_audit.plan_label_audit(cfg, 3).expand()
    for fold in folds:
        data = load_data(fold.config)
        left_out = set(fold.config.exclude_examples)
        assert {example_id for example_id, _, _ in data.relabelled} == set(chosen) - left_out
        assert not left_out & set(data.ids_train.tolist())
    assert any(set(chosen) & set(fold.config.exclude_examples) for fold in folds)

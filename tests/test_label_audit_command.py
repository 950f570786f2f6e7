"""`python -m cnnkit label-audit` (cnnkit.label_audit_command): a bad number of folds in one line naming Folds; a
real tiny audit on digits whose fold runs finish tagged, log their held-out predictions, and whose CSV lists
suspects by id in Inspect's label-issues format, which `--set exclude_examples=@FILE` takes back."""

import json

import numpy as np
import pytest

from cnnkit.cli import build_parser, config_from_args, main
from cnnkit.config import TrainConfig, load_data
from cnnkit.explorer import label_issues
from cnnkit.tracking import RunStore, run_schema

TINY = ["--dataset", "digits", "--epochs", "1", "--set", "train_limit=150"]


@pytest.mark.parametrize("folds", ["1", "11"])
def test_a_number_of_folds_out_of_range_is_one_line_naming_folds(folds, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["label-audit", *TINY, "--folds", folds, "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: Folds: use between 2 and 10, got {folds}." and "Traceback" not in err


def test_a_bad_setting_is_named_before_any_run(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["label-audit", "--dataset", "digits", "--set", "exclude_examples=no-such-id", "--tracking-uri",
                 uri]) == 2
    assert "Exclude examples (exclude_examples): 'no-such-id' is not in this dataset" in capsys.readouterr().err


@pytest.mark.slow
def test_an_audit_trains_its_folds_logs_their_predictions_and_writes_the_suspects(tmp_path, capsys):
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "suspects.csv"
    assert main(["label-audit", *TINY, "--folds", "3", "--out", str(out), "--top", "5", "--tracking-uri", uri]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    last = json.loads(printed[-1])
    ids_train = load_data(TrainConfig(dataset="digits", train_limit=150)).ids_train
    assert (last["folds"], last["finished"], last["training_examples"], last["csv"]) == (3, 3, len(ids_train), str(out))
    assert printed[0].split() == ["rank", "position", "id", "given_label", "suggested_label", "score"]
    suspects = label_issues.read_csv(out.read_bytes())
    assert len(suspects) == last["suspects"] and (suspects["split"] == "training").all()
    assert suspects["id"].tolist() == [ids_train[p] for p in suspects["position"]]
    store = RunStore(uri)
    runs = store.label_audit_runs(last["label_audit_id"])
    assert runs["fold"].tolist() == [1, 2, 3] and set(runs["status"]) == {"FINISHED"}
    held_out = [store.load_arrays_artifact(run_id, run_schema.LABEL_AUDIT_HELD_OUT) for run_id in runs["run_id"]]
    assert sorted(np.concatenate([part["ids"] for part in held_out]).tolist()) == sorted(ids_train.tolist())
    for run_id, part in zip(runs["run_id"], held_out):  # each fold run trained without the examples it predicts
        assert set(store.config_of_run(run_id).exclude_examples) == set(part["ids"].tolist())
        assert np.allclose(part["probabilities"].sum(axis=1), 1, atol=1e-3)
    assert len(suspects)  # one epoch on 100 images: a weak model doubts many labels
    # the CSV goes back in as the examples to exclude
    cfg = config_from_args(build_parser().parse_args(["train", *TINY, "--set", f"exclude_examples=@{out}"]))
    assert set(cfg.exclude_examples) == set(suspects["id"])

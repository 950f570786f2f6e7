import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnkit.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_list_architectures_json_has_seed_parameter_counts(capsys):
    assert main(["list", "architectures", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["mnist_cnn"]["param_count"] == 1_290_346
    assert rows["wide_elu_cnn"]["param_count"] == 6_777_060


@pytest.mark.parametrize("what, expected", [("datasets", "digits"), ("presets", "seed002_baseline"),
                                            ("ablations", "seed002_ablation")])
def test_list_datasets_presets_and_ablations(capsys, what, expected):
    assert main(["list", what, "--json"]) == 0
    assert expected in {row["name"] for row in json.loads(capsys.readouterr().out)}


def test_an_invalid_setting_is_reported_without_a_traceback(capsys):
    assert main(["train", "--dataset", "digits", "--set", "learning_rate=-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Learning rate (learning_rate): must be above 0") and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_train_on_digits_prints_one_json_line_with_the_run_and_test_metrics(tmp_path, backend):
    if backend == "jax":
        pytest.importorskip("jax")  # in requirements-dev.txt: our GPU machines have JAX, not TensorFlow
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "KERAS_BACKEND": backend}
    done = subprocess.run(
        [sys.executable, "-m", "cnnkit", "train", "--dataset", "digits", "--epochs", "1", "--set", "seed=3",
         "--set", "schedule=cyclic", "--set", "rotation=10", "--set", "prefilter=sharpen"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["status"] == "FINISHED" and len(last["run_id"]) == 32
    assert 0 < last["test_accuracy"] <= 1 and "test_top5_accuracy" in last
    assert "epoch 1/1" in done.stderr
    assert not (tmp_path / "mlruns").exists()  # MLFLOW_TRACKING_URI was honoured
    from cnnkit.tracking.store_opening import make_client

    run = make_client(env["MLFLOW_TRACKING_URI"]).get_run(last["run_id"])
    assert run.data.tags["keras.backend"] == backend


def test_register_a_runs_model_then_list_registered_models(tmp_path, capsys):
    from cnnkit.tracking import RunStore
    from test_model_registry import run_with_model

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = run_with_model(RunStore(uri), tmp_path)

    assert main(["register", run_id, "digits", "--tracking-uri", uri]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out) == {"name": "digits", "version": 1, "run_id": run_id, "model_uri": "models:/digits/1"}
    assert "logged before cnnkit saved MLflow Models" in said.err  # a bare .keras file: no MLmodel to serve
    assert main(["list", "models", "--json", "--tracking-uri", uri]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == "digits v1" and run_id in listed["description"]
    assert main(["register", "0" * 32, "digits", "--tracking-uri", uri]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_the_readme_form_of_a_csv_dataset_path_is_accepted():
    """`--dataset csv` alone is invalid (it needs a path); with `--set dataset_path=...` it is one valid config."""
    from cnnkit.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--dataset", "csv", "--set", "dataset_path=train.csv", "--epochs", "2"])
    cfg = config_from_args(args)
    assert (cfg.dataset, cfg.dataset_path, cfg.epochs) == ("csv", "train.csv", 2)


def digits_csv(path: Path) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = ["label," + ",".join(f"pixel{i}" for i in range(64))]
    rows += [f"{label}," + ",".join(str(int(v * 255 / 16)) for v in image.ravel())
             for label, image in zip(digits.target[:300], digits.images[:300])]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_train_reads_a_csv_path_and_ends_special_files_failed_at_once(tmp_path, capsys):
    """The operator's own paths are not confined on the command line, but FIFOs and devices are refused."""
    from cnnkit.tracking.store_opening import make_client

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = ["train", "--dataset", "csv", "--epochs", "1", "--tracking-uri", store]
    assert main([*common, "--set", f"dataset_path={digits_csv(tmp_path / 'train.csv')}"]) == 0
    finished = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert finished["status"] == "FINISHED"
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # reading it the usual way would block the run for good
    for path, kind in ((fifo, "a named pipe (FIFO)"), ("/dev/zero", "a character device")):
        assert main([*common, "--set", f"dataset_path={path}"]) == 1
        captured = capsys.readouterr()
        failed = json.loads(captured.out.strip().splitlines()[-1])
        assert failed["status"] == "FAILED" and f"{path} is {kind}, not a regular file" in captured.err
        run = make_client(store).get_run(failed["run_id"])
        assert run.info.status == "FAILED" and kind in run.data.tags["cnnkit.error"]


@pytest.mark.parametrize("runner, message", [
    ("yarn://cluster", "Runner: 'yarn://cluster' is neither 'threads' nor a Ray cluster address"),
    ("ray://127.0.0.1:9", "The Ray cluster at http://127.0.0.1:9 can't be reached"),
])
def test_a_runner_that_cant_be_used_is_one_line_not_a_traceback(capsys, runner, message):
    assert main(["train", "--dataset", "digits", "--runner", runner]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# A FINISHED run's metrics as `training.train` returns them in this process (the thread runner) ...
TRAINED = {"final_loss": 0.31, "final_accuracy": 0.9, "final_val_loss": 0.35, "final_val_accuracy": 0.88,
           "test_loss": 0.33, "test_accuracy": 0.89, "test_top1_accuracy": 0.89, "test_top3_accuracy": 0.97,
           "test_top5_accuracy": 0.99, "epochs_trained": 3}
# ... and as the Ray runner reads them back from the store: every metric's latest value, a float each
STORED = {**{key: float(value) for key, value in TRAINED.items()}, "loss": 0.3, "accuracy": 0.91, "val_loss": 0.35,
          "val_accuracy": 0.88, "lr": 0.001, "epoch_seconds": 1.5, "elapsed_s": 4.5, "batch_loss": 0.29,
          "param_count": 12345.0, "time_to_val_acc_90": float("nan")}


def test_both_runners_final_lines_are_one_and_the_same():
    """Before, the Ray runner's line held every metric of the store, `epochs_trained` a float, and no error
    for a KILLED run; the thread runner's held the run's results only."""
    from cnnkit.cli import final_line

    finished = final_line("r1", "FINISHED", TRAINED, None)
    assert finished == final_line("r1", "FINISHED", STORED, None)
    parsed = json.loads(finished)
    assert set(parsed) == {"run_id", "status", *TRAINED}
    assert type(parsed["epochs_trained"]) is int and type(parsed["test_accuracy"]) is float
    # a stopped run: the thread runner has no results, the store has the epochs it logged
    killed = final_line("r1", "KILLED", {}, "Stopped.")
    assert killed == final_line("r1", "KILLED", STORED, "Stopped.")
    assert json.loads(killed) == {"run_id": "r1", "status": "KILLED", "error": "Stopped."}


@pytest.mark.parametrize("value", ["train/7,train/1", "@ids.txt", "@issues.csv"])
def test_excluded_examples_are_set_inline_or_from_a_file_of_ids_or_a_csv_with_an_id_column(tmp_path, monkeypatch,
                                                                                           value):
    from cnnkit.cli import build_parser, config_from_args

    (tmp_path / "ids.txt").write_text("train/7\ntrain/1\n")
    (tmp_path / "issues.csv").write_text("split,index,id,given_label\nvalidation,3,train/7,1\ntest,9,train/1,2\n")
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["train", "--dataset", "mnist", "--set", f"exclude_examples={value}"])
    assert config_from_args(args).exclude_examples == ("train/1", "train/7")


def test_a_missing_file_of_ids_is_one_line_naming_the_setting(tmp_path, capsys):
    assert main(["train", "--dataset", "digits", "--set", f"exclude_examples=@{tmp_path / 'gone.txt'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Exclude examples (exclude_examples): can't read") and "Traceback" not in err


@pytest.mark.parametrize("value", ["@relabel.csv", "@issues.csv"])
def test_relabelled_examples_come_from_a_csv_of_new_labels_or_a_label_issues_export(tmp_path, monkeypatch, value):
    from cnnkit.cli import build_parser, config_from_args

    (tmp_path / "relabel.csv").write_text("id,new_label\n12,7\n40,9\n")
    (tmp_path / "issues.csv").write_text("rank,split,id,given_label,suggested_label,score\n"
                                         "1,training,40,4,9,0.01\n2,training,12,1,7,0.02\n")
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["train", "--dataset", "csv", "--set", "dataset_path=train.csv",
                                      "--set", f"relabel_examples={value}"])
    assert config_from_args(args).relabel_examples == ("12,7", "40,9")


def test_relabelling_an_official_dataset_is_one_line_naming_the_setting(capsys):
    assert main(["train", "--dataset", "digits", "--set", "relabel_examples=12,7"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Relabel examples (relabel_examples): relabelling writes a corrected copy of a csv "
                          "or folder dataset") and "Traceback" not in err


def test_list_settings_shows_exclude_examples(capsys):
    assert main(["list", "settings"]) == 0
    out = capsys.readouterr().out
    assert "exclude_examples" in out and "Exclude examples: default (empty)" in out and "@FILE" in out
    assert "Relabel examples: default (empty); takes @FILE: a CSV with id and new_label" in out

"""What the Compare and Inspect pages read back from runs: results, differing settings, curves,
evaluations and test sets. Three tiny real runs on digits (two share a seed, so a data split)
and one that fails before loading data."""

from dataclasses import dataclass

import numpy as np
import pytest

from cnnkit import InputError, tracking
from cnnkit.tracking import run_schema
from cnnkit.tracking.store_opening import make_client
from cnnkit.config import TrainConfig
from cnnkit.training import RunResult, train

TINY = TrainConfig(dataset="digits", arch="kaggle_mnist_cnn", epochs=1, train_limit=300)
DEFAULT_NAME = "kaggle_mnist_cnn on digits"


@dataclass(frozen=True)
class Runs:
    store: object  # a tracking.RunStore
    client: object  # MLflow's client on the same store, to look inside
    base: RunResult  # seed 0
    faster: RunResult  # seed 0, learning_rate 0.003: the same data split as base, the same default name
    other_seed: RunResult  # seed 1, named "seed 1": another split
    failed: RunResult  # a CSV file that isn't there


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("results")
    store = f"sqlite:///{tmp}/mlflow.db"
    made = Runs(
        tracking.RunStore(store),
        make_client(store),
        train(TINY, tracking_uri=store),
        train(TINY.replace(learning_rate=3e-3), tracking_uri=store),
        train(TINY.replace(seed=1), tracking_uri=store, run_name="seed 1"),
        train(TrainConfig(dataset="csv", dataset_path=str(tmp / "missing.csv"), epochs=3), tracking_uri=store),
    )
    assert [run.status for run in (made.base, made.faster, made.other_seed)] == ["FINISHED"] * 3
    assert made.failed.status == "FAILED"
    return made


def test_results_table_has_each_runs_results_in_the_order_asked(runs):
    order = [runs.other_seed, runs.base, runs.failed]
    table = runs.store.results_table([run.run_id for run in order])

    assert tuple(table.columns) == tracking.RESULT_COLUMNS
    assert list(table["run_id"]) == [run.run_id for run in order]
    assert list(table["status"]) == ["FINISHED", "FINISHED", "FAILED"]
    for row, run in zip(table.iloc[:2].itertuples(), order):
        for key in run_schema.RESULT_METRICS:
            assert getattr(row, key) == pytest.approx(run.metrics[key]), key
        info = runs.client.get_run(run.run_id).info
        assert row.wall_s == pytest.approx((info.end_time - info.start_time) / 1000)
    assert table.loc[2, run_schema.RESULT_METRICS].isna().all()
    assert list(table["epochs"]) == [1, 1, 3]  # epochs trained; the failed run's from its config


def test_runs_sharing_a_name_get_a_short_id_suffix(runs):
    ids = [runs.base.run_id, runs.faster.run_id, runs.other_seed.run_id]
    names = runs.store.results_table(ids)["run"].tolist()
    assert names == [f"{DEFAULT_NAME} ({ids[0][:8]})", f"{DEFAULT_NAME} ({ids[1][:8]})", "seed 1"]
    alone = runs.store.results_table([runs.base.run_id])["run"].tolist()
    assert alone == [DEFAULT_NAME]


def test_differing_params_keeps_only_settings_that_differ_with_missing_as_empty():
    frame = tracking.differing_params({
        "a": {"arch": "x", "learning_rate": "0.1", "seed": "0", "note": "old"},
        "b": {"arch": "x", "learning_rate": "0.2", "seed": "0"},
    })
    assert frame.index.name == "setting"
    assert list(frame.columns) == ["a", "b"]
    assert frame.to_dict("index") == {"learning_rate": {"a": "0.1", "b": "0.2"}, "note": {"a": "old", "b": ""}}
    assert list(frame.index) == ["learning_rate", "note"]  # config fields in their order, then other params
    assert tracking.differing_params({"a": {"seed": "0"}, "b": {"seed": "0"}}).empty


def test_params_diff_shows_learning_rate_and_seed_but_not_shared_settings(runs):
    ids = [runs.base.run_id, runs.faster.run_id, runs.other_seed.run_id]
    diff = runs.store.params_diff(ids)
    assert list(diff.columns) == runs.store.results_table(ids)["run"].tolist()
    assert list(diff.index) == ["learning_rate", "seed"]
    assert diff.loc["learning_rate"].tolist() == ["0.001", "0.003", "0.001"]
    assert diff.loc["seed"].tolist() == ["0", "0", "1"]


def test_histories_lay_runs_epoch_curves_end_to_end(runs):
    ids = [runs.base.run_id, runs.other_seed.run_id, runs.failed.run_id]
    curves = runs.store.histories(ids)

    assert list(curves.columns) == ["run_id", "run", "epoch", *run_schema.EPOCH_CURVES]
    assert list(curves["run_id"]) == ids[:2]  # one epoch each; the failed run has no curves
    assert list(curves["run"]) == [DEFAULT_NAME, "seed 1"]
    epochs, _ = runs.store.run_history(runs.base.run_id)
    assert curves.iloc[0][["epoch", *run_schema.EPOCH_CURVES]].tolist() == epochs.iloc[0][["epoch", *run_schema.EPOCH_CURVES]].tolist()
    assert list(runs.store.histories(ids, keys=("val_accuracy",)).columns) == ["run_id", "run", "epoch", "val_accuracy"]


def test_histories_per_batch_carry_each_runs_rate_forward(runs):
    curves = runs.store.histories([runs.base.run_id, runs.faster.run_id], batch=True)

    assert list(curves.columns) == ["run_id", "run", "step", "batch_loss", "batch_lr"]
    _, batches = runs.store.run_history(runs.faster.run_id)
    assert len(batches) > 1
    for run_id, rate in ((runs.base.run_id, 1e-3), (runs.faster.run_id, 3e-3)):
        mine = curves[curves["run_id"] == run_id]
        assert mine["step"].tolist() == batches["step"].tolist()
        assert mine["batch_lr"].tolist() == pytest.approx([rate] * len(batches))  # logged at step 1 only
    assert curves.loc[curves["run_id"] == runs.faster.run_id, "batch_loss"].tolist() == batches["batch_loss"].tolist()


@pytest.fixture(scope="module")
def evaluation(runs):
    return runs.store.evaluation_of_run(runs.base.run_id)


def test_evaluation_confusion_matches_the_test_metrics(runs, evaluation):
    n_test = runs.store.load_json_artifact(runs.base.run_id, "dataset/summary.json")["splits"]["test"]
    assert evaluation.class_names == [str(digit) for digit in range(10)]
    assert evaluation.confusion.shape == (10, 10) and evaluation.confusion.dtype == np.int64
    assert evaluation.confusion.sum() == n_test
    assert np.trace(evaluation.confusion) == round(runs.base.metrics["test_accuracy"] * n_test)
    assert evaluation.per_class["class"].tolist() == evaluation.class_names
    assert evaluation.per_class["support"].tolist() == evaluation.confusion.sum(axis=1).tolist()


def test_evaluation_mistakes_carry_probabilities_and_their_images(evaluation):
    mistakes = evaluation.mistakes
    assert len(mistakes) == evaluation.confusion.sum() - np.trace(evaluation.confusion)
    for row in mistakes.itertuples():
        assert isinstance(row.probabilities, np.ndarray) and row.probabilities.shape == (10,)
        assert row.probabilities.sum() == pytest.approx(1, abs=1e-4)
        assert row.probabilities[row.predicted] == pytest.approx(row.confidence, abs=1e-6)
    shown = mistakes["index"].tolist()[:100]
    assert list(evaluation.mistake_images) == shown
    assert all(image.dtype == np.uint8 and image.shape == (8, 8, 1) for image in evaluation.mistake_images.values())


def test_a_failed_run_has_no_evaluation(runs):
    with pytest.raises(InputError, match="has no evaluation"):
        runs.store.evaluation_of_run(runs.failed.run_id)


def test_test_split_of_run_reloads_the_images_the_run_was_tested_on(runs, evaluation):
    split = runs.store.test_split_of_run(runs.base.run_id)
    assert np.bincount(split.y_test, minlength=10).tolist() == evaluation.confusion.sum(axis=1).tolist()
    for index, image in evaluation.mistake_images.items():
        assert np.array_equal(split.x_test[index], image)
    assert (split.y_test[evaluation.mistakes["index"]] == evaluation.mistakes["true"]).all()


def test_test_split_of_run_refuses_data_that_changed_or_is_gone(runs, tmp_path):
    config = runs.store.config_of_run(runs.base.run_id)
    tampered = runs.store.start_run(config, tags={run_schema.DATA_FINGERPRINT_TAG: "0" * 64})
    with pytest.raises(InputError, match="The data this run saw is not available any more"):
        runs.store.test_split_of_run(tampered.run_id)

    gone = TrainConfig(dataset="csv", dataset_path=str(tmp_path / "deleted.csv"))
    moved = runs.store.start_run(gone, tags={run_schema.DATA_FINGERPRINT_TAG: "0" * 64})
    with pytest.raises(InputError, match="not available any more: .*deleted.csv does not exist"):
        runs.store.test_split_of_run(moved.run_id)

    with pytest.raises(InputError, match="never loaded its data"):
        runs.store.test_split_of_run(runs.failed.run_id)


def test_runs_on_the_same_data_split_have_the_same_test_fingerprint(runs):
    order = [runs.base, runs.faster, runs.other_seed, runs.failed]
    fingerprints = runs.store.test_fingerprints([run.run_id for run in order])
    assert list(fingerprints) == [run.run_id for run in order]
    assert fingerprints[runs.base.run_id] == fingerprints[runs.faster.run_id] != fingerprints[runs.other_seed.run_id]
    assert fingerprints[runs.failed.run_id] is None  # never loaded data


def test_test_fingerprints_compare_only_the_test_split_when_every_run_logged_its_fingerprint(runs):
    config = runs.store.config_of_run(runs.base.run_id)
    official = {run_schema.TEST_FINGERPRINT_TAG: "1" * 64}
    seed_3, seed_4 = (runs.store.start_run(config, tags={**official, run_schema.DATA_FINGERPRINT_TAG: split * 64})
                      for split in "34")
    other_test_set = runs.store.start_run(config, tags={run_schema.TEST_FINGERPRINT_TAG: "2" * 64,
                                                                   run_schema.DATA_FINGERPRINT_TAG: "3" * 64})
    fingerprints = runs.store.test_fingerprints([seed_3.run_id, seed_4.run_id, other_test_set.run_id])
    assert list(fingerprints.values()) == ["1" * 64, "1" * 64, "2" * 64]
    untagged = runs.store.start_run(config, tags={run_schema.DATA_FINGERPRINT_TAG: "3" * 64})  # logged before test fingerprints
    assert set(runs.store.test_fingerprints([other_test_set.run_id, untagged.run_id]).values()) == {"3" * 64}
    assert run_schema.TEST_FINGERPRINT_TAG in runs.client.get_run(runs.base.run_id).data.tags

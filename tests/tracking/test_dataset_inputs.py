"""A run's splits as MLflow dataset inputs: names, contexts, digests taken from the fingerprints,
sources that never show where the server keeps an upload, and MLflow's own reads of them
(`get_run(...).inputs`, `search_runs` on `dataset.digest`). Nothing is trained here; a real run
logs them in tests/training/test_logged_training.py."""

import json

import pytest
from mlflow.types.schema import Schema

from cheap_runs import finished_run, run_on_data
from cnnkit.config import TrainConfig
from cnnkit.datasets import load_dataset, save_upload
from cnnkit.tracking.dataset_inputs import dataset_inputs, evaluated_images, training_digest


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", val_fraction=0.1, seed=0)


def contexts(inputs) -> dict[str, str]:
    """context -> name, as MLflow's input tags say."""
    return {tag.value: found.dataset.name for found in inputs for tag in found.tags if tag.key == "mlflow.data.context"}


def test_the_three_splits_are_named_with_their_context_and_digested_by_the_fingerprints(digits):
    inputs = dataset_inputs(digits, "", "a" * 64, "b" * 64)
    assert contexts(inputs) == {"training": "digits/train", "validation": "digits/validation", "testing": "digits/test"}
    assert [found.dataset.digest for found in inputs] == ["a" * 16, "a" * 16, "b" * 16]
    train = inputs[0].dataset
    assert (train.source_type, json.loads(train.source)) == ("cnnkit", {"dataset": "digits"})
    features = Schema.from_json(json.loads(train.schema)["mlflow_tensorspec"]["features"])
    assert features.inputs[0].shape == (-1, 8, 8, 1) and str(features.inputs[0].type) == "uint8"
    profiles = [json.loads(found.dataset.profile) for found in inputs]
    assert [profile["num_rows"] for profile in profiles] == list(digits.split_counts().values())
    assert profiles[2]["features_shape"] == list(digits.x_test.shape) and profiles[2]["num_classes"] == 10


def test_a_split_without_validation_logs_no_validation_input():
    data = load_dataset("digits", val_fraction=0, seed=0)
    assert set(contexts(dataset_inputs(data, "", "a" * 64, "b" * 64))) == {"training", "testing"}


def test_an_upload_is_named_as_uploaded_and_a_path_as_the_setting_holds_it(digits, tmp_path):
    _, stored = save_upload(b"label,pixel0\n1,0\n", "my digits.csv", tmp_path / "uploads")
    source = dataset_inputs(digits, str(stored), "a" * 64, "b" * 64)[0].dataset
    assert (source.source_type, json.loads(source.source)) == ("cnnkit", {"dataset": "digits", "upload": "my digits.csv"})
    assert str(tmp_path) not in source.source  # where the server keeps uploads stays on the server
    source = dataset_inputs(digits, "data/faces", "a" * 64, "b" * 64)[0].dataset
    assert (source.source_type, json.loads(source.source)) == ("local", {"uri": "data/faces"})


def test_logged_inputs_read_back_through_mlflow_and_its_search_finds_runs_by_digest(run_store, client, digits):
    same = [run_on_data(run_store, name) for name in ("first", "second")]
    other = run_on_data(run_store, "other split", val_fraction=0.2)
    plain = finished_run(run_store)  # logged without dataset inputs, as runs before them were
    run = client.get_run(same[0])
    assert contexts(run.inputs.dataset_inputs) == {"training": "digits/train", "validation": "digits/validation",
                                                   "testing": "digits/test"}
    digest = training_digest(run)
    assert digest == digits.fingerprint()[:16] == training_digest(client.get_run(same[1]))
    assert training_digest(client.get_run(other)) != digest and training_digest(client.get_run(plain)) is None
    experiment = run.info.experiment_id
    found = client.search_runs([experiment], f"dataset.digest = '{digest}'")
    assert sorted(found_run.info.run_id for found_run in found) == sorted(same)
    tested_alike = client.search_runs([experiment], f"dataset.digest = '{digits.test_fingerprint()[:16]}'")
    assert len(tested_alike) == 3  # one official-less test split, the same for both validation shares


def test_logging_the_inputs_again_changes_nothing(run_store, client, digits):
    logger = run_store.start_run(TrainConfig())
    for _ in range(2):  # a resumed run logs its data again
        logger.log_datasets(digits, "", digits.fingerprint(), digits.test_fingerprint())
    assert len(client.get_run(logger.run_id).inputs.dataset_inputs) == 3


def test_a_run_says_how_many_test_images_it_was_evaluated_on_from_its_test_input(run_store, client, digits):
    logged, plain = run_on_data(run_store, "logged"), finished_run(run_store)
    assert evaluated_images(client.get_run(logged)) == len(digits.y_test) == digits.split_counts()["test"]
    assert evaluated_images(client.get_run(plain)) is None  # logged before runs had dataset inputs

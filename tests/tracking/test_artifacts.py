"""A run's files read back (cnnkit.tracking.artifacts): JSON and CSV artifacts, and every model
file checked against the SHA-256 recorded when it was logged before anything loads it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnnkit import InputError, tracking
from cnnkit.config import TrainConfig
from cnnkit.tracking import run_schema


def artifact_path(client, run_id: str, artifact_file: str) -> Path:
    return Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://")) / artifact_file


def test_json_and_table_artifacts_read_back_as_logged(run_store):
    logger = run_store.start_run(TrainConfig())
    logger.log_json({"splits": {"train": 3}}, run_schema.DATASET_SUMMARY)
    logger.log_table(pd.DataFrame({"class": ["a", "b"], "support": [1, 2]}), run_schema.PER_CLASS)
    assert run_store.dataset_summary(logger.run_id) == {"splits": {"train": 3}}
    assert run_store.load_json_artifact(logger.run_id, run_schema.DATASET_SUMMARY)["splits"]["train"] == 3
    assert run_store.load_table_artifact(logger.run_id, run_schema.PER_CLASS)["support"].tolist() == [1, 2]


def test_arrays_read_back_as_logged(run_store):
    logger = run_store.start_run(TrainConfig())
    logger.log_arrays({"test": np.array([[0.25, 0.75]], np.float16), "labels": np.array([1])}, "some/arrays.npz")
    arrays = run_store.load_arrays_artifact(logger.run_id, "some/arrays.npz")
    assert arrays["test"].dtype == np.float16 and arrays["test"].tolist() == [[0.25, 0.75]]
    assert arrays["labels"].tolist() == [1]


def test_a_run_without_a_summary_model_or_snapshots_says_so(run_store, tmp_path):
    run_id = run_store.start_run(TrainConfig()).run_id
    with pytest.raises(InputError, match=f"^Run {run_id} has no some/arrays.npz.$"):
        run_store.load_arrays_artifact(run_id, "some/arrays.npz")
    with pytest.raises(InputError, match="has no summary of its data"):
        run_store.dataset_summary(run_id)
    with pytest.raises(InputError, match=f"^Run {run_id} has no saved model.$"):
        run_store.download_model(run_id, tmp_path)
    assert run_store.snapshot_epochs(run_id) == []


def test_a_model_file_changed_after_it_was_logged_is_refused(run_store, client, tmp_path):
    logger = run_store.start_run(TrainConfig())
    made = tmp_path / "made" / Path(run_schema.MODEL_ARTIFACT).name
    made.parent.mkdir()
    made.write_bytes(b"a saved model")
    logger.log_file(made, str(Path(run_schema.MODEL_ARTIFACT).parent), checksum=True)
    assert client.get_run(logger.run_id).data.tags[run_schema.MODEL_SHA256_TAG] == tracking.file_sha256(made)
    downloaded = run_store.download_model(logger.run_id, tmp_path / "one")
    assert downloaded.read_bytes() == b"a saved model"

    artifact_path(client, logger.run_id, run_schema.MODEL_ARTIFACT).write_bytes(b"another model")
    with pytest.raises(InputError, match="does not match the checksum recorded when it was trained: it was changed"):
        run_store.download_model(logger.run_id, tmp_path / "two")

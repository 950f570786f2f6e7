"""The runner seam's `JobSpec`: everything a runner needs to start a job, as plain values that travel
to another process as JSON (a cluster's worker reads it back), the submitter's server paths included."""

import dataclasses
import json
from pathlib import Path

import pytest

from cnnkit.config import ServerPaths, TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs.runner import JobSpec

CFG = TrainConfig(dataset="csv", dataset_path="/srv/uploads/train.csv", epochs=3, learning_rate=3e-4)
PATHS = ServerPaths(False, Path("/srv/uploads"), (Path("/srv/uploads"), Path("/data/shared")))
EVERY_FIELD = JobSpec("job-7", "fork", CFG, "forked run", "sqlite:////srv/mlflow.db", "digits experiments",
                      run_id="a" * 32, steps=40, tags={"cnnkit.ablation": "widths"}, epoch=2,
                      changes={"learning_rate": 1e-4}, images=500, server_paths=PATHS)


def test_every_field_of_a_job_survives_its_json_round_trip():
    defaults = JobSpec("j", "train", TrainConfig(), "n", None, "cnnkit")
    unset = [f.name for f in dataclasses.fields(JobSpec) if getattr(EVERY_FIELD, f.name) == getattr(defaults, f.name)]
    assert unset == []  # a field added to JobSpec must be given here, so its round trip is tested too
    assert JobSpec.from_json(EVERY_FIELD.to_json()) == EVERY_FIELD


def test_a_job_without_server_paths_may_name_any_path():
    """A job the operator wrote by hand, naming no policy, is theirs: any path, as on their command line."""
    values = json.loads(EVERY_FIELD.to_json())
    del values["server_paths"]
    assert JobSpec.from_json(json.dumps(values)).server_paths == ServerPaths.anywhere()


@pytest.mark.parametrize("text", [
    "{not json",
    "[1, 2]",  # JSON, but not an object
    json.dumps({**json.loads(EVERY_FIELD.to_json()), "priority": 3}),  # a field JobSpec doesn't have
    json.dumps({key: value for key, value in json.loads(EVERY_FIELD.to_json()).items() if key != "config"}),
    json.dumps({key: value for key, value in json.loads(EVERY_FIELD.to_json()).items() if key != "job_id"}),
])
def test_text_that_is_not_a_jobs_json_is_one_input_error(text):
    with pytest.raises(InputError, match="^The worker's job is not a job's JSON: "):
        JobSpec.from_json(text)


def test_a_job_whose_config_is_invalid_says_which_setting():
    values = json.loads(EVERY_FIELD.to_json())
    values["config"]["learning_rate"] = -1
    with pytest.raises(InputError, match="^Learning rate: must be above 0"):
        JobSpec.from_json(json.dumps(values))

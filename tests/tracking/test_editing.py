"""People's changes to runs (cnnkit.tracking.editing): renaming, tags, deletion, MLflow's refusals."""

import os

import pytest
from mlflow.exceptions import MlflowException

from cheap_runs import finished_run
from cnnkit import InputError


def test_runs_can_be_renamed_tagged_untagged_and_deleted(run_store, client):
    kept, deleted = finished_run(run_store), finished_run(run_store)
    run_store.rename_run(kept, "  best so far ")
    run_store.set_run_tag(kept, "keeper", "yes")
    run_store.set_run_tag(kept, "draft")
    run_store.delete_run_tag(kept, "draft")
    run_store.delete_run(deleted)

    frame = run_store.runs_frame()
    assert frame[["run_id", "name", "tags"]].values.tolist() == [[kept, "best so far", "keeper=yes"]]
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"  # soft: MLflow can restore it


@pytest.mark.parametrize("key", ["", "  ", "mlflow.runName", "cnnkit.pid", "keras.backend"])
def test_empty_and_reserved_tag_keys_are_refused(run_store, client, key):
    run_id = finished_run(run_store)
    with pytest.raises(InputError, match="[Tt]ag"):
        run_store.set_run_tag(run_id, key, "x")
    with pytest.raises(InputError, match="[Tt]ag"):
        run_store.delete_run_tag(run_id, key)
    assert client.get_run(run_id).data.tags["cnnkit.pid"] == str(os.getpid())


REFUSED_TAG_NAMES = ["**k**", "bad*name", "<b>x</b>", "a/../b", "/lead", "trail/", "a//b", ".", "..x", "x" * 251]
TAKEN_TAG_NAMES = ["keep", "with space", "a.b-c_d", "team/owner", ".hidden", "stage:2", "ü" * 250]


def test_tag_names_mlflow_would_refuse_are_refused_in_one_line_naming_the_tag_field(run_store):
    from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, _validate_tag_name

    run_id = finished_run(run_store)
    for key in REFUSED_TAG_NAMES:
        if len(key) <= MAX_ENTITY_KEY_LENGTH:
            with pytest.raises(MlflowException):  # MLflow's own rule, the independent check
                _validate_tag_name(key)
        with pytest.raises(InputError) as raised:
            run_store.set_run_tag(run_id, key, "x")
        assert str(raised.value).startswith(
            f"Tag '{key}' can't be a tag's name: use at most 250 letters, digits, spaces"), key


def test_tag_names_mlflow_takes_are_taken(run_store, client):
    from mlflow.utils.validation import _validate_tag_name

    run_id = finished_run(run_store)
    for key in TAKEN_TAG_NAMES:
        _validate_tag_name(key)
        run_store.set_run_tag(run_id, key, "x")
    tags = client.get_run(run_id).data.tags
    assert {key: tags.get(key) for key in TAKEN_TAG_NAMES} == dict.fromkeys(TAKEN_TAG_NAMES, "x")


def test_mlflow_refusals_reach_people_as_input_errors(run_store):
    run_id = finished_run(run_store)
    with pytest.raises(InputError, match="nope"):
        run_store.delete_run_tag(run_id, "nope")
    with pytest.raises(InputError):
        run_store.rename_run(run_id, " ")

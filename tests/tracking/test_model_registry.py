"""MLflow's Model Registry through the store (cnnkit.tracking.model_registry)."""

import pytest

from cheap_runs import finished_run
from cnnkit import InputError
from cnnkit.config import TrainConfig


def run_with_model(run_store, tmp_path, status="FINISHED"):
    logger = run_store.start_run(TrainConfig())
    (tmp_path / "model.keras").write_bytes(b"a saved model")
    run_store._client.log_artifact(logger.run_id, str(tmp_path / "model.keras"), "model")
    logger.finish(status)
    return logger.run_id


def test_registering_a_run_twice_makes_versions_one_and_two_of_the_same_model(run_store, client, tmp_path):
    first, second = run_with_model(run_store, tmp_path), run_with_model(run_store, tmp_path)
    assert run_store.register_model(first, "  digits ").version == 1
    assert run_store.register_model(second, "digits").version == 2
    run_store.register_model(first, "Another")

    listed = [(v.name, v.version, v.run_id) for v in run_store.registered_models()]
    assert listed == [("Another", 1, first), ("digits", 2, second), ("digits", 1, first)]
    assert [(v.name, v.version) for v in run_store.registered_models(run_id=first)] == [("Another", 1), ("digits", 1)]
    assert client.get_model_version("digits", "2").run_id == second


def test_an_empty_store_has_no_registered_models(run_store):
    assert run_store.registered_models() == []


@pytest.mark.parametrize("name, message", [(" ", "needs a name"), ("a/b", "cannot contain '/'")])
def test_bad_model_names_are_refused_with_a_reason(run_store, tmp_path, name, message):
    run_id = run_with_model(run_store, tmp_path)
    with pytest.raises(InputError, match=message):
        run_store.register_model(run_id, name)
    assert run_store.registered_models() == []


def test_only_finished_runs_with_a_saved_model_can_be_registered(run_store, tmp_path):
    with pytest.raises(InputError, match="is FAILED: only a finished run"):
        run_store.register_model(run_with_model(run_store, tmp_path, status="FAILED"), "m")
    with pytest.raises(InputError, match="no saved model"):
        run_store.register_model(finished_run(run_store), "m")
    with pytest.raises(InputError):
        run_store.register_model("0" * 32, "m")
    assert run_store.registered_models() == []


def test_a_run_logged_before_mlflow_models_registers_for_cnnkit_with_a_note_that_mlflow_cannot_serve_it(
        run_store, client, tmp_path):
    """Its model folder holds the bare .keras file, no MLmodel: cnnkit's pages load it by its run, so it is
    registered as before, and the version says why mlflow.pyfunc and `mlflow models serve` refuse it."""
    version = run_store.register_model(run_with_model(run_store, tmp_path), "old")
    assert "logged before cnnkit saved MLflow Models" in version.note
    assert client.get_model_version("old", "1").description == version.note


def test_a_run_with_an_mlmodel_registers_its_model_folder_without_a_note(run_store, client, tmp_path):
    logger = run_store.start_run(TrainConfig())
    for name in ("model.keras", "MLmodel"):
        (tmp_path / name).write_bytes(b"written by log_model")
        client.log_artifact(logger.run_id, str(tmp_path / name), "model")
    logger.finish("FINISHED")
    version = run_store.register_model(logger.run_id, "new")
    assert version.note == ""
    source = client.get_model_version("new", "1").source
    assert source == f"{client.get_run(logger.run_id).info.artifact_uri}/model"

"""A run's epoch snapshots are checked before they are used: each file's SHA-256 is recorded when it
is saved, and time travel (model and test probabilities), `fork --epoch K` and the Inspect page's
epoch slider refuse a snapshot changed after training in one line. A snapshot that can't be loaded
ends a fork FAILED with one line; snapshots of runs logged before checksums load unchecked."""

import hashlib
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import keras
import pytest
import streamlit as st

from cnnkit import InputError, cli, tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking import run_schema
from cnnkit.config import TrainConfig
from cnnkit.training import fork, train
from alerts import alert_text

pytestmark = pytest.mark.slow

TINY = TrainConfig(dataset="digits", epochs=2, batch_size=32, train_limit=100, snapshot_every=1, seed=5)


@pytest.fixture(scope="module")
def snapshotted(tmp_path_factory):
    """(store, run id) of a finished 2-epoch digits run with a snapshot after each epoch."""
    store = f"sqlite:///{tmp_path_factory.mktemp('snapshots') / 'mlflow.db'}"
    result = train(TINY, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    return store, result.run_id


def artifact(store: str, run_id: str, artifact_file: str) -> Path:
    """Where the store keeps a run's artifact on this machine (as someone with the folder sees it)."""
    uri = make_client(store).get_run(run_id).info.artifact_uri
    return Path(unquote(urlparse(uri).path)) / artifact_file


def overwritten(snapshotted, epoch: int, with_epoch: int):
    """`epoch`'s snapshot (model and probabilities) overwritten with `with_epoch`'s, valid files both; put back after."""
    store, run_id = snapshotted
    files = [(artifact(store, run_id, name(with_epoch)), artifact(store, run_id, name(epoch)))
             for name in (run_schema.snapshot_model, run_schema.snapshot_probabilities)]
    originals = [(target, target.read_bytes()) for _, target in files]
    for source, target in files:
        shutil.copyfile(source, target)
    yield store, run_id
    for target, data in originals:
        target.write_bytes(data)


@pytest.fixture()
def tampered(snapshotted):
    """Epoch 2's snapshot overwritten with epoch 1's."""
    yield from overwritten(snapshotted, 2, with_epoch=1)


@pytest.fixture()
def tampered_first(snapshotted):
    """Epoch 1's snapshot overwritten with epoch 2's: Inspect's slider has a stop of its own for epoch 1
    (epoch 2's snapshot is the finished run, one stop with it)."""
    yield from overwritten(snapshotted, 1, with_epoch=2)


CHANGED = "The snapshot of run {run_id} at epoch 2 does not match the checksum recorded when it was saved: it was " \
          "changed after training."


def test_every_snapshot_file_has_its_sha256_recorded_when_saved(snapshotted):
    store, run_id = snapshotted
    tags = make_client(store).get_run(run_id).data.tags
    for epoch in (1, 2):
        for artifact_file in (run_schema.snapshot_model(epoch), run_schema.snapshot_probabilities(epoch)):
            digest = hashlib.sha256(artifact(store, run_id, artifact_file).read_bytes()).hexdigest()
            assert tags[run_schema.sha256_tag(artifact_file)] == digest


def test_time_travel_refuses_a_changed_snapshot_in_one_line(tampered):
    store, run_id = tampered
    runs = tracking.RunStore(store)
    for load in (runs.load_snapshot_model, runs.snapshot_probabilities):
        with pytest.raises(InputError) as refused:
            load(run_id, 2)
        assert str(refused.value) == CHANGED.format(run_id=run_id)
    assert runs.load_snapshot_model(run_id, 1).output_shape == (None, 10)  # the other epoch is untouched


def test_a_fork_from_a_changed_snapshot_is_refused_in_one_line_before_any_run_exists(tampered, capsys):
    store, run_id = tampered
    client = make_client(store)
    experiment = client.get_run(run_id).info.experiment_id
    before = {run.info.run_id for run in client.search_runs([experiment])}
    with pytest.raises(InputError) as refused:
        fork(run_id, 2, {"epochs": "3"}, tracking_uri=store)
    assert str(refused.value) == CHANGED.format(run_id=run_id)
    assert cli.main(["fork", run_id, "--epoch", "2", "epochs=3", "--tracking-uri", store]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"error: {CHANGED.format(run_id=run_id)}" and "Traceback" not in err
    assert {run.info.run_id for run in client.search_runs([experiment])} == before  # no FAILED fork left behind: nothing was trained


@pytest.fixture(params=["garbage", "hostile"])
def unchecked_garbage(snapshotted, request, tmp_path):
    """Epoch 2's model snapshot replaced by garbage or a hostile model (a Lambda layer), its checksum tag
    removed as for a run logged before checksums; both put back after."""
    store, run_id = snapshotted
    client, target = make_client(store), artifact(store, run_id, run_schema.snapshot_model(2))
    tag = "cnnkit.sha256/" + run_schema.snapshot_model(2)  # spelled out: the name stored runs keep
    original, digest = target.read_bytes(), client.get_run(run_id).data.tags.get(tag)
    if digest:
        client.delete_tag(run_id, tag)
    if request.param == "garbage":
        target.write_bytes(b"PK\x03\x04 not a model" * 100)
    else:
        keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Flatten(),
                          keras.layers.Dense(10, activation="softmax")]).save(tmp_path / "hostile.keras")
        target.write_bytes((tmp_path / "hostile.keras").read_bytes())
    yield store, run_id
    target.write_bytes(original)
    if digest:
        client.set_tag(run_id, tag, digest)


def test_a_fork_from_a_snapshot_that_cant_be_loaded_ends_failed_in_one_line(unchecked_garbage):
    store, run_id = unchecked_garbage
    result = fork(run_id, 2, {"epochs": "3"}, tracking_uri=store)
    expected = (f"The snapshot of run {run_id} at epoch 2 can't be loaded: its weights don't fit this model, or the "
                "file is damaged.")
    assert (result.status, result.error) == ("FAILED", expected)
    assert make_client(store).get_run(result.run_id).data.tags[run_schema.ERROR_TAG] == expected


def test_snapshots_of_runs_logged_before_checksums_load_unchecked(snapshotted):
    store, run_id = snapshotted
    client = make_client(store)
    tags = {run_schema.sha256_tag(name(2)): None
            for name in (run_schema.snapshot_model, run_schema.snapshot_probabilities)}
    run_tags = client.get_run(run_id).data.tags
    for tag in tags:
        tags[tag] = run_tags[tag]
        client.delete_tag(run_id, tag)
    try:
        runs = tracking.RunStore(store)
        assert runs.load_snapshot_model(run_id, 2).output_shape == (None, 10)
        assert runs.snapshot_probabilities(run_id, 2).shape[1] == 10
    finally:
        for tag, digest in tags.items():
            client.set_tag(run_id, tag, digest)


def test_the_inspect_pages_epoch_slider_shows_a_changed_snapshot_in_one_line(app, tampered_first, monkeypatch):
    store, run_id = tampered_first
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    st.cache_data.clear()
    app.session_state["inspect_run"] = run_id
    at = app.switch_page("app_pages/inspect.py").run()
    at.select_slider(key=f"inspect.epoch.{run_id}").set_value(1).run()
    assert not at.exception
    assert [alert_text(error) for error in at.error] == [CHANGED.format(run_id=run_id).replace("epoch 2", "epoch 1")]

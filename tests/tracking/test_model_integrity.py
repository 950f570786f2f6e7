"""A run's saved model is checked before it is loaded: a file changed after training, a hostile file
safe mode refuses and a damaged file are each one line naming the run, in `load_model` and on the
Classify and Inspect pages. Hostile files are made here, never shipped."""

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlparse

import keras
import numpy as np
import pytest
import streamlit as st

from cnnkit import InputError, tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking import run_schema
from alerts import alert_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """(tracking URI, run id) of a finished 1-epoch digits run trained on 10 images."""
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    result = train(TrainConfig(dataset="digits", epochs=1, train_limit=10), tracking_uri=uri)
    assert result.status == "FINISHED"
    return uri, result.run_id


def model_file(client, run_id: str) -> Path:
    return Path(unquote(urlparse(client.get_run(run_id).info.artifact_uri).path)) / run_schema.MODEL_ARTIFACT


@pytest.fixture()
def plant(digits_run, tmp_path):
    """plant(kind) replaces the run's saved model behind MLflow's back, as someone with access to the
    artifact folder could: "swapped" (the same network with other weights, checksum tag kept),
    "lambda" (a Lambda layer, checksum tag removed as for a run logged before checksums) or
    "garbage" (no model at all, tag removed). The run's model and tag are put back afterwards."""
    client = make_client(digits_run[0])
    run_id = digits_run[1]
    path = model_file(client, run_id)
    original, tag = path.read_bytes(), client.get_run(run_id).data.tags[run_schema.MODEL_SHA256_TAG]

    def planting(kind: str) -> bytes:
        made = tmp_path / "planted.keras"
        if kind == "swapped":
            model = keras.saving.load_model(path, safe_mode=True)
            model.set_weights([np.zeros_like(weights) for weights in model.get_weights()])
            model.save(made)
        elif kind == "lambda":
            keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")]).save(made)
        else:
            made.write_bytes(b"PK\x03\x04 not a model" * 100)
        if kind != "swapped":
            client.delete_tag(run_id, run_schema.MODEL_SHA256_TAG)
        path.write_bytes(made.read_bytes())
        return made.read_bytes()

    yield planting
    path.write_bytes(original)
    client.set_tag(run_id, run_schema.MODEL_SHA256_TAG, tag)


def test_a_logged_model_carries_its_sha256_and_loads(digits_run):
    client = make_client(digits_run[0])
    run_store = tracking.RunStore(digits_run[0])
    recorded = client.get_run(digits_run[1]).data.tags[run_schema.MODEL_SHA256_TAG]
    assert recorded == hashlib.sha256(model_file(client, digits_run[1]).read_bytes()).hexdigest()
    assert run_store.load_model(digits_run[1]).output_shape == (None, 10)


MESSAGES = {
    "swapped": "The saved model of run {run_id} does not match the checksum recorded when it was trained: it was "
               "changed after training.",
    "lambda": "The saved model of run {run_id} can't be loaded safely: it holds code (such as a Lambda layer) or "
              "parts cnnkit doesn't know, or the file is damaged.",
}
MESSAGES["garbage"] = MESSAGES["lambda"]


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_a_changed_hostile_or_damaged_model_is_refused_in_one_line_naming_the_run(digits_run, plant, kind):
    client, run_store, run_id = make_client(digits_run[0]), tracking.RunStore(digits_run[0]), digits_run[1]
    planted = plant(kind)
    with pytest.raises(InputError) as raised:
        run_store.load_model(run_id)
    assert str(raised.value) == MESSAGES[kind].format(run_id=run_id)
    assert model_file(client, run_id).read_bytes() == planted  # refused, not "repaired" or deleted
    assert client.get_run(run_id).info.status == "FINISHED"


def test_a_run_logged_before_checksums_still_loads(digits_run):
    client, run_store, run_id = make_client(digits_run[0]), tracking.RunStore(digits_run[0]), digits_run[1]
    tag = client.get_run(run_id).data.tags[run_schema.MODEL_SHA256_TAG]
    client.delete_tag(run_id, run_schema.MODEL_SHA256_TAG)
    try:
        assert run_store.load_model(run_id).output_shape == (None, 10)
    finally:
        client.set_tag(run_id, run_schema.MODEL_SHA256_TAG, tag)


@pytest.mark.parametrize("page", ["app_pages/classify.py", "app_pages/inspect.py"])
@pytest.mark.parametrize("kind", ["swapped", "lambda"])
def test_the_classify_and_inspect_pages_show_a_refused_model_in_one_line(app, digits_run, plant, monkeypatch, page,
                                                                          kind):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", digits_run[0])
    st.cache_data.clear()
    plant(kind)
    at = app.switch_page(page).run()
    if page == "app_pages/inspect.py":  # its dashboard needs no model: the tabs that use one say why there is none
        assert not at.exception and not at.error
        at.session_state["inspect.tab"] = "Grad-CAM"
        at.run()
    assert not at.exception
    assert [alert_text(error) for error in at.error] == [MESSAGES[kind].format(run_id=digits_run[1])]

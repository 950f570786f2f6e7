"""A run's model as an MLflow Model (cnnkit.tracking.mlflow_model): the keras and python_function flavours
over the one `.keras` file, image files in and class probabilities out as the Classify page computes
them, the file's SHA-256 checked by the python_function loader. The slow tests use a trained digits run:
`runs:/` and `models:/` URIs, and a real `mlflow models serve` answering an HTTP request."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_digits

from cnnkit import tracking
from cnnkit.explorer import calibration_view
from cnnkit.models import inspection, predict
from cnnkit.stats import calibration
from cnnkit.tracking.mlflow_model import IMAGE_COLUMN, png_bytes, save_mlflow_model
from cnnkit.tracking.store_opening import make_client
from test_store_opening import free_port
from test_model_integrity import digits_run, model_file  # noqa: F401  (digits_run: a module-scoped fixture)

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["cat", "dog", "eel"]


def image_model() -> keras.Model:
    """6x6 RGB images to three classes, its pixels scaled inside the network as cnnkit's are."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softmax")])


def saved(tmp_path, model: keras.Model, light_on_dark: bool = False, temperature: float | None = None) -> Path:
    """`model` saved as an MLflow Model folder, as RunLogger.log_model saves it; the folder."""
    keras_file = tmp_path / "model.keras"
    model.save(keras_file)
    folder = tmp_path / "model"
    save_mlflow_model(folder, keras_file, CLASSES, light_on_dark, tracking.file_sha256(keras_file),
                      np.zeros((6, 6, 3), np.uint8), temperature=temperature)
    return folder


def light_digit(size: int = 20) -> bytes:
    """A PNG of a dark sklearn digit on a light background, `size` pixels square: an MNIST-style network's
    upload that Classify inverts and pads."""
    digit = (load_digits().images[7] * 15).astype(np.uint8)
    big = np.kron(digit, np.ones((size // 8 + 1, size // 8 + 1), np.uint8))[:size, :size]
    return png_bytes((255 - big)[..., None])


def classify_page_probabilities(store: tracking.RunStore, run_id: str, image: bytes, calibrated: bool = True
                                ) -> np.ndarray:
    """What the Classify page shows for one upload, its polarity toggle at its default and its
    "Calibrated probabilities" toggle as `calibrated` (app_pages/classify.py, app_pages/calibration_panel.py)."""
    model = store.load_model(run_id)
    evaluation = store.evaluation_of_run(run_id)
    sample = np.stack(list(evaluation.mistake_images.values())) if evaluation.mistake_images else None
    light_on_dark = bool(sample is not None and predict.trained_light_on_dark(sample))
    prepared = predict.prepare(image, "upload.png", tuple(model.input_shape[1:]), light_on_dark)
    temperature = calibration_view.temperature_of(store.run(run_id).metrics) if calibrated else None
    return calibration.calibrated(inspection.predict_probabilities(model, prepared.model_input[None]), temperature)[0]


def test_the_python_function_flavour_takes_image_files_and_answers_each_class_probability(tmp_path):
    model = image_model()
    folder = saved(tmp_path, model)
    files = [png_bytes(np.full((6, 6, 3), 200, np.uint8)), png_bytes(np.arange(64, dtype=np.uint8).reshape(8, 8, 1))]

    answer = mlflow.pyfunc.load_model(str(folder)).predict(pd.DataFrame({IMAGE_COLUMN: files}))

    fitted = np.stack([predict.prepare(data, "x", (6, 6, 3), False).model_input for data in files])
    assert list(answer.columns) == CLASSES
    np.testing.assert_allclose(answer.to_numpy(), inspection.predict_probabilities(model, fitted), atol=1e-6)
    assert fitted[1].shape == (6, 6, 3)  # the grey 8x8 image was fitted (channels, size) before the network


def test_the_folder_keeps_one_keras_file_which_the_keras_flavour_loads(tmp_path):
    folder = saved(tmp_path, image_model())
    assert sorted(path.name for path in folder.rglob("*.keras")) == ["model.keras"]
    assert not (folder / "data").exists()
    meta = mlflow.models.Model.load(str(folder / "MLmodel"))
    assert set(meta.flavors) == {"keras", "python_function", "cnnkit"}
    assert meta.signature.inputs.input_names() == [IMAGE_COLUMN]
    assert meta.signature.outputs.input_names() == CLASSES
    assert "cnnkit==" in (folder / "requirements.txt").read_text()
    example = json.loads((folder / "serving_input_example.json").read_text())["dataframe_split"]
    assert example["columns"] == [IMAGE_COLUMN]
    assert base64.b64decode(example["data"][0][0]).startswith(b"\x89PNG")

    loaded = mlflow.keras.load_model(str(folder))
    np.testing.assert_array_equal(loaded.get_weights()[0], image_model().get_weights()[0])


def test_light_on_dark_inverts_an_image_on_a_light_background_as_classify_does(tmp_path):
    model = image_model()
    image = png_bytes(np.pad(np.zeros((4, 4, 3), np.uint8), ((1, 1), (1, 1), (0, 0)), constant_values=250))
    answer = mlflow.pyfunc.load_model(str(saved(tmp_path, model, light_on_dark=True))).predict(
        pd.DataFrame({IMAGE_COLUMN: [image]}))
    inverted = predict.prepare(image, "x", (6, 6, 3), True)
    assert inverted.inverted
    expected = inspection.predict_probabilities(model, inverted.model_input[None])[0]
    np.testing.assert_allclose(answer.to_numpy()[0], expected, atol=1e-6)


def test_a_runs_temperature_calibrates_the_answer_unless_the_raw_softmax_is_asked_for(tmp_path):
    model = image_model()
    loaded = mlflow.pyfunc.load_model(str(saved(tmp_path, model, temperature=2.0)))
    files = pd.DataFrame({IMAGE_COLUMN: [png_bytes(np.full((6, 6, 3), 250, np.uint8))]})

    raw = inspection.predict_probabilities(model, np.full((1, 6, 6, 3), 250, np.uint8))
    by_hand = np.exp(np.log(raw) / 2.0) / np.exp(np.log(raw) / 2.0).sum(axis=1, keepdims=True)  # softmax(log p / T)
    np.testing.assert_allclose(loaded.predict(files).to_numpy(), by_hand, atol=1e-6)
    np.testing.assert_allclose(loaded.predict(files, params={"calibrated": False}).to_numpy(), raw, atol=1e-6)
    assert not np.allclose(by_hand, raw, atol=1e-3)  # T = 2 flattens them: the two answers differ


def test_a_changed_keras_file_is_refused_by_the_python_function_loader(tmp_path):
    folder = saved(tmp_path, image_model())
    other = image_model()
    other.set_weights([weights + 1 for weights in other.get_weights()])
    other.save(folder / "model.keras")  # another network's weights behind the MLmodel's back
    with pytest.raises(MlflowException, match="changed after training"):
        mlflow.pyfunc.load_model(str(folder))


def test_a_file_safe_mode_refuses_is_refused_even_with_its_checksum(tmp_path):
    """A Lambda layer (code in the file) whose SHA-256 the MLmodel records, as a forged folder would."""
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(MlflowException, match="can't be loaded safely"):
        mlflow.pyfunc.load_model(str(saved(tmp_path, model)))


def test_a_file_that_is_no_image_is_refused_as_a_bad_request(tmp_path):
    loaded = mlflow.pyfunc.load_model(str(saved(tmp_path, image_model())))
    with pytest.raises(MlflowException) as refused:
        loaded.predict(pd.DataFrame({IMAGE_COLUMN: [b"not an image"]}))
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE" and "image 1" in refused.value.message


# ---- a trained run: runs:/ and models:/ URIs, and a real server --------------------------------------------


@pytest.fixture()
def digits_store(digits_run, monkeypatch):  # noqa: F811  (the imported fixture)
    """(RunStore, run id) of the digits run, MLflow's URIs resolved against its store."""
    uri, run_id = digits_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return tracking.RunStore(uri), run_id


@pytest.mark.slow
def test_a_runs_and_a_registered_versions_uri_answer_what_classify_shows(digits_store):
    store, run_id = digits_store
    version = store.register_model(run_id, "digits-pyfunc")
    assert version.note == ""
    image = light_digit()
    expected = classify_page_probabilities(store, run_id, image)
    for uri in (f"runs:/{run_id}/model", f"models:/digits-pyfunc/{version.version}"):
        answer = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({IMAGE_COLUMN: [image]}))
        assert list(answer.columns) == [str(digit) for digit in range(10)]
        np.testing.assert_allclose(answer.to_numpy()[0], expected, atol=1e-5)
    assert mlflow.keras.load_model(f"runs:/{run_id}/model").input_shape == (None, 8, 8, 1)


@pytest.mark.slow
@pytest.mark.parametrize("mlmodel_too", [False, True], ids=["file", "file and MLmodel"])
def test_a_runs_changed_model_is_refused_through_its_runs_uri(digits_store, mlmodel_too):
    """A changed byte of model.keras; and, as someone rewriting the artifact folder could, the MLmodel's
    checksum made to match it: then the run's tag in the store still tells."""
    store, run_id = digits_store
    path = model_file(make_client(store.tracking_uri), run_id)
    mlmodel = path.parent / "MLmodel"
    original, original_mlmodel = path.read_bytes(), mlmodel.read_text()
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        if mlmodel_too:
            meta = mlflow.models.Model.load(str(mlmodel))
            meta.flavors["cnnkit"]["model_sha256"] = tracking.file_sha256(path)
            meta.save(str(mlmodel))
        with pytest.raises(MlflowException, match="changed after training"):
            mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    finally:
        path.write_bytes(original)
        mlmodel.write_text(original_mlmodel)


def wait_until_up(url: str, server: subprocess.Popen, log: Path, deadline_s: float = 180) -> None:
    """Poll `url` until it answers 200 (a loaded machine may take minutes to import TensorFlow)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the model server ended before answering:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"the model server did not answer {url} within {deadline_s} s:\n{log.read_text()[-3000:]}")


def stop_group(server: subprocess.Popen) -> None:
    """End the server's process group (uvicorn's workers with it): SIGTERM, then SIGKILL after 30 s."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:  # the whole group is gone already
            break
        try:
            server.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            pass


@pytest.mark.slow
def test_mlflow_models_serve_answers_a_registered_version_as_classify_does(digits_store, tmp_path):
    store, run_id = digits_store
    version = store.register_model(run_id, "digits-served")
    port = free_port()
    # this checkout's cnnkit, as the tests import it, and the environment's uvicorn, which the server starts
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log_path = tmp_path / "server.log"
    log = log_path.open("w")
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                               f"models:/digits-served/{version.version}", "--env-manager", "local",
                               "-h", "127.0.0.1", "-p", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # its own process group: its workers end with it
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server, log_path)
        image = light_digit()
        body = {"dataframe_split": {"columns": [IMAGE_COLUMN], "data": [[base64.b64encode(image).decode()]]}}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            [row] = json.loads(answer.read())["predictions"]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations",
                                         json.dumps({**body, "params": {"calibrated": False}}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            [raw_row] = json.loads(answer.read())["predictions"]
    finally:
        stop_group(server)
        log.close()
    assert calibration_view.temperature_of(store.run(run_id).metrics) is not None  # the run fitted one
    for answered, calibrated in ((row, True), (raw_row, False)):
        expected = classify_page_probabilities(store, run_id, image, calibrated)
        np.testing.assert_allclose([answered[str(digit)] for digit in range(10)], expected, atol=1e-5)

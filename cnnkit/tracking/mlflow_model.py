"""A run's model as an MLflow Model: the folder `model/` holds the `.keras` file (run_schema.MODEL_ARTIFACT)
and an `MLmodel` beside it listing three flavours over that one file:
- `keras`: `mlflow.keras.load_model` gives the Keras model (import cnnkit.models first: it registers
  cnnkit's layers);
- `python_function`: `mlflow.pyfunc.load_model(...).predict(frame)` takes a DataFrame with a column
  `image` of image files' bytes (PNG, JPEG, ...; base64 in a JSON request to `mlflow models serve`),
  fits each image to the network as the Classify page does (decoding, channels, padding, and
  inversion for networks trained on light shapes on a dark background), and answers a DataFrame of
  class probabilities, one column per class name. The network's own layers do the rest (pre-filter,
  normalisation). Where the run fitted a temperature they are calibrated with it, as Classify shows
  them by default; the parameter `calibrated=False` (`"params"` in a JSON request) gives the raw softmax;
- `cnnkit`: the class names, the polarity, the temperature (or null) and the SHA-256 of the `.keras`
  file, which the python_function loader checks before it loads the file with safe_mode=True.
"""

from __future__ import annotations

import io
import logging
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Sequence

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.models.model import MLMODEL_FILE_NAME
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema
from PIL import Image

import cnnkit.tracking.artifacts as artifacts
from cnnkit import __version__
from cnnkit.errors import InputError
from cnnkit.stats import calibration
from cnnkit.tracking.run_schema import MODEL_SHA256_TAG

_log = logging.getLogger(__name__)

IMAGE_COLUMN = "image"  # the python_function flavour's one input column: an image file's bytes
FLAVOR = "cnnkit"  # the MLmodel's own section: class_names, light_on_dark, temperature, model_sha256
CALIBRATED_PARAM = "calibrated"  # predict's parameter: False for the network's own softmax
_BACKEND_BUILDS = {"tensorflow": ("tensorflow-cpu",), "jax": ("jaxlib",)}  # a backend's other distributions


def save_mlflow_model(folder: Path, keras_file: Path, class_names: Sequence[str], light_on_dark: bool, sha256: str,
                      example: np.ndarray, run_id: str | None = None, temperature: float | None = None) -> None:
    """Write the MLflow Model into the new `folder`: `keras_file` moved in under its own name, the MLmodel,
    a signature, an input example (the image `example`, (H, W, C) uint8, as PNG) and the environment files.
    `sha256` is the `.keras` file's, as tagged on the run; `temperature` the run's calibration (None: none
    fitted). No requirement is inferred (that would load the
    model again): they are pinned to the versions running now."""
    import keras

    signature = ModelSignature(inputs=Schema([ColSpec(DataType.binary, IMAGE_COLUMN)]),
                               outputs=Schema([ColSpec(DataType.float, str(name)) for name in class_names]),
                               params=ParamSchema([ParamSpec(CALIBRATED_PARAM, DataType.boolean, True)]))
    backend = keras.backend.backend()
    requirements = [f"cnnkit=={__version__}", f"mlflow=={mlflow.__version__}",
                    *_pinned("keras", backend, *_BACKEND_BUILDS.get(backend, ()), "pillow")]
    mlflow.pyfunc.save_model(folder, loader_module=__name__, data_path=str(keras_file), signature=signature,
                             input_example=pd.DataFrame({IMAGE_COLUMN: [png_bytes(example)]}),
                             pip_requirements=requirements, mlflow_model=Model(run_id=run_id))
    # save_model copied the file to data/: it goes back beside the MLmodel, where cnnkit's loaders find it
    # as run_schema.MODEL_ARTIFACT, and both flavours read it there (keras: "<data>.keras").
    copied = folder / "data" / keras_file.name
    copied.replace(folder / keras_file.name)
    shutil.rmtree(folder / "data")
    model = Model.load(str(folder / MLMODEL_FILE_NAME))
    model.flavors["python_function"]["data"] = keras_file.name
    model.add_flavor("keras", data=keras_file.stem, keras_version=keras.__version__, keras_backend=backend,
                     save_exported_model=False)
    model.add_flavor(FLAVOR, class_names=[str(name) for name in class_names], light_on_dark=bool(light_on_dark),
                     temperature=None if temperature is None else float(temperature), model_sha256=sha256)
    model.save(str(folder / MLMODEL_FILE_NAME))


def png_bytes(image: np.ndarray) -> bytes:
    """An image (H, W, 1 or 3) uint8 as a PNG file's bytes."""
    array = np.asarray(image, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buffer, format="PNG")
    return buffer.getvalue()


def _pinned(*distributions: str) -> list[str]:
    """"name==version" for each of these distributions that is installed (asked by name: a scan of
    every installed package for the one providing a module takes seconds)."""
    pins = []
    for name in distributions:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pass
    return pins


class ImageClassifier:
    """The python_function flavour's model: image files in, class probabilities out."""

    def __init__(self, model, class_names: Sequence[str], light_on_dark: bool, temperature: float | None = None):
        self.model, self.class_names, self.light_on_dark = model, list(class_names), light_on_dark
        self.temperature = temperature

    def predict(self, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """One row of probabilities per row of `model_input` (column `image`: an image file's bytes),
        the image fitted to the network as the Classify page fits an upload, calibrated with the run's
        temperature unless `params` says {"calibrated": False}. A file that is not a safe, complete image
        is refused (MLflow's INVALID_PARAMETER_VALUE, which a server answers with 400)."""
        from cnnkit.models import inspection, predict  # Keras: imported when a model is used

        shape = tuple(self.model.input_shape[1:])
        try:
            inputs = [predict.prepare(bytes(data), f"image {row + 1}", shape, self.light_on_dark).model_input
                      for row, data in enumerate(pd.DataFrame(model_input)[IMAGE_COLUMN])]
        except InputError as error:
            raise MlflowException(str(error), INVALID_PARAMETER_VALUE) from None
        if not inputs:
            return pd.DataFrame(columns=self.class_names, dtype="float32")
        probabilities = inspection.predict_probabilities(self.model, np.stack(inputs))
        if (params or {}).get(CALIBRATED_PARAM, True) and self.temperature is not None:
            probabilities = calibration.calibrated(probabilities, self.temperature).astype(np.float32)
        return pd.DataFrame(probabilities, columns=self.class_names)


def _load_pyfunc(path: str) -> ImageClassifier:
    """MLflow's entry to the python_function flavour: `path` is the `.keras` file, checked against the
    SHA-256 recorded when it was logged (see `recorded_sha256`) before it is loaded with safe_mode=True."""
    keras_file = Path(path)
    meta = Model.load(str(keras_file.parent / MLMODEL_FILE_NAME))
    settings = meta.flavors[FLAVOR]
    what = f"The MLflow model in {keras_file.parent}"
    if artifacts.file_sha256(keras_file) != recorded_sha256(meta):
        raise MlflowException(f"{what}: its {keras_file.name} does not match the checksum recorded when it was "
                              "trained: it was changed after training.")
    try:
        model = artifacts.load_keras_file(keras_file, what)
    except InputError as error:
        raise MlflowException(str(error)) from None
    return ImageClassifier(model, settings["class_names"], settings["light_on_dark"], settings.get("temperature"))


def recorded_sha256(meta: Model) -> str:
    """The `.keras` file's SHA-256 as logged: the MLmodel's copy, and where MLflow is set to a tracking store
    holding the model's run (as when loading a `runs:/` or `models:/` URI), the run's tag MODEL_SHA256_TAG,
    which must agree (an MLmodel rewritten with the file is refused). MlflowException when they differ."""
    copied = meta.flavors[FLAVOR]["model_sha256"]
    if not (meta.run_id and mlflow.is_tracking_uri_set()):
        return copied
    try:
        tagged = MlflowClient().get_run(meta.run_id).data.tags.get(MODEL_SHA256_TAG, copied)
    except MlflowException as error:  # another store: the MLmodel's copy is all there is
        _log.info("run %s's checksum tag not read: %s", meta.run_id, error)
        return copied
    if tagged != copied:
        raise MlflowException(f"The MLflow model of run {meta.run_id} records another checksum than the run: it "
                              "was changed after training.")
    return tagged

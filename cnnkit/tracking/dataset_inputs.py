"""A run's training, validation and test data as MLflow dataset inputs, so that MLflow's UI and its
search (`dataset.digest = '…'`) tell which runs share data.

The digests reuse the fingerprints training computes anyway (`Dataset.fingerprint`,
`test_fingerprint`), so nothing is hashed twice: the training and validation inputs carry the
fingerprint of the data with its whole split (the validation images are those held out of the
training pool, so one fingerprint pins both; equal digests mean the same data split the same way),
the test input the test images' own, which runs tested on the same images share whatever their seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from mlflow.entities import Dataset as DatasetEntity
from mlflow.entities import DatasetInput, InputTag, Run
from mlflow.data.schema import TensorDatasetSchema
from mlflow.types.schema import Schema, TensorSpec

from cnnkit.datasets import Dataset, shown_name
from cnnkit.tracking.run_schema import DATASET_CONTEXT_TAG, DATASET_CONTEXTS, DATASET_DIGEST_CHARS, dataset_input_name

CNNKIT_SOURCE = "cnnkit"  # the source type of data cnnkit names: an official dataset, an upload


def dataset_inputs(data: Dataset, path: str, fingerprint: str, test_fingerprint: str) -> list[DatasetInput]:
    """`data`'s splits as dataset inputs (no validation input when nothing is held out): named
    "<dataset>/<split>", sourced from `path` (the dataset path setting; "" for an official dataset),
    digested by the fingerprints `data` gave (see the module's note)."""
    source_type, source = _source(data.name, path)
    splits = {"train": (data.x_train, data.y_train, fingerprint),
              "validation": (data.x_val, data.y_val, fingerprint),
              "test": (data.x_test, data.y_test, test_fingerprint)}
    return [DatasetInput(DatasetEntity(dataset_input_name(data.name, split), digest[:DATASET_DIGEST_CHARS], source_type,
                                       json.dumps(source), _schema(x, y), _profile(x, y, data.class_names)),
                         [InputTag(DATASET_CONTEXT_TAG, DATASET_CONTEXTS[split])])
            for split, (x, y, digest) in splits.items() if split != "validation" or len(y)]


def training_digest(run: Run) -> str | None:
    """The digest of the data `run` trained on; None for a run logged without dataset inputs."""
    inputs = run.inputs.dataset_inputs if run.inputs else []
    return next((found.dataset.digest for found in inputs
                 if any(tag.key == DATASET_CONTEXT_TAG and tag.value == DATASET_CONTEXTS["train"] for tag in found.tags)),
                None)


def evaluated_images(run: Run) -> int | None:
    """How many test images `run` was evaluated on (its test input's `num_rows`); None for a run logged
    without dataset inputs."""
    inputs = run.inputs.dataset_inputs if run.inputs else []
    found = next((found.dataset for found in inputs
                  if any(tag.key == DATASET_CONTEXT_TAG and tag.value == DATASET_CONTEXTS["test"] for tag in found.tags)),
                 None)
    rows = json.loads(found.profile or "{}").get("num_rows") if found is not None else None
    return int(rows) if isinstance(rows, int) else None


def _source(dataset: str, path: str) -> tuple[str, dict[str, str]]:
    """An official dataset by its name; an upload by the name it was uploaded under, never where the
    server keeps it; any other path as the dataset path setting holds it (a run's params show it too)."""
    if not path:
        return CNNKIT_SOURCE, {"dataset": dataset}
    shown = shown_name(path)
    if shown != str(Path(path)):
        return CNNKIT_SOURCE, {"dataset": dataset, "upload": shown}
    return "local", {"uri": path}


def _schema(x: np.ndarray, y: np.ndarray) -> str:
    """MLflow's tensor schema: images (-1, H, W, C) of uint8, class indices (-1,)."""
    return json.dumps(TensorDatasetSchema(Schema([TensorSpec(x.dtype, (-1, *x.shape[1:]), "images")]),
                                          Schema([TensorSpec(y.dtype, (-1,), "labels")])).to_dict())


def _profile(x: np.ndarray, y: np.ndarray, class_names: tuple[str, ...]) -> str:
    return json.dumps({"num_rows": len(y), "features_shape": list(x.shape), "num_classes": len(class_names),
                       "classes": list(class_names)})

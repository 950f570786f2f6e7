"""A run's files read back: JSON and CSV artifacts, the summary of its data, its model and its
snapshots (a model and test probabilities every few epochs), each model file checked against the
SHA-256 recorded when it was logged and loaded with safe_mode=True."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from cnnkit.errors import InputError
from cnnkit.tracking._store_client import StoreClient
from cnnkit.tracking.run_schema import DATASET_SUMMARY, MODEL_ARTIFACT, SNAPSHOT_FOLDER, TRAINING_DYNAMICS, sha256_tag, snapshot_epoch
from cnnkit.tracking.run_schema import snapshot_model as snapshot_model_file
from cnnkit.tracking.run_schema import snapshot_probabilities as snapshot_probabilities_file

_log = logging.getLogger(__name__)


class RunArtifacts(StoreClient):
    """Reading a run's artifacts, its model and its snapshots."""

    def load_json_artifact(self, run_id: str, artifact_file: str) -> Any:
        with tempfile.TemporaryDirectory() as tmp:
            return json.loads(Path(self._client.download_artifacts(run_id, artifact_file, tmp)).read_text())

    def load_table_artifact(self, run_id: str, artifact_file: str) -> pd.DataFrame:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(self._client.download_artifacts(run_id, artifact_file, tmp))
            return pd.read_csv(io.StringIO(path.read_text()))

    def load_arrays_artifact(self, run_id: str, artifact_file: str) -> dict[str, np.ndarray]:
        """An .npz artifact's arrays (loaded without pickles); InputError naming the run when it has none."""
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self._client.download_artifacts(run_id, artifact_file, tmp)
            except Exception:  # MLflow raises several types for a missing artifact
                raise InputError(f"Run {run_id} has no {artifact_file}.") from None
            with np.load(path, allow_pickle=False) as arrays:
                return {name: arrays[name] for name in arrays.files}

    def dataset_summary(self, run_id: str) -> dict[str, Any]:
        """What `train` logged about the run's data: name, input shape, split counts, fingerprint."""
        try:
            return self.load_json_artifact(run_id, DATASET_SUMMARY)
        except (MlflowException, OSError, ValueError):
            raise InputError(f"Run {run_id} has no summary of its data: it stopped before loading it.") from None

    def download_model(self, run_id: str, folder: Path) -> Path:
        """The run's `.keras` file, downloaded into `folder` and checked against the SHA-256 recorded when
        it was logged (runs logged before that have none). InputError when it is missing or was changed."""
        return self._download_checked(run_id, MODEL_ARTIFACT, folder, f"Run {run_id} has no saved model.",
                                      f"The saved model of run {run_id} does not match the checksum recorded when "
                                      "it was trained")

    def load_model(self, run_id: str):
        """A run's trained model, once its file is checked against the SHA-256 recorded when it was
        logged (runs logged before that have none and load unchecked), loaded with safe_mode=True (no
        code from the artifact runs). A changed, refused or damaged file is an InputError naming the run."""
        with tempfile.TemporaryDirectory() as tmp:
            return load_keras_file(self.download_model(run_id, Path(tmp)), f"The saved model of run {run_id}")

    def training_dynamics(self, run_id: str) -> dict[str, np.ndarray] | None:
        """The run's training dynamics (run_schema.TRAINING_DYNAMICS: its arrays by name), None for a run
        without them (trained before they were recorded, with the setting off, or stopped mid-epoch)."""
        folder = TRAINING_DYNAMICS.rsplit("/", 1)[0]
        try:
            if TRAINING_DYNAMICS not in {file.path for file in self._client.list_artifacts(run_id, folder)}:
                return None
        except (MlflowException, OSError):
            return None
        with tempfile.TemporaryDirectory() as tmp:
            with np.load(self._client.download_artifacts(run_id, TRAINING_DYNAMICS, tmp), allow_pickle=False) as arrays:
                return {name: arrays[name] for name in arrays.files}

    # ---- snapshots: a run's model and test probabilities every few epochs (setting snapshot_every) ------

    def snapshot_epochs(self, run_id: str) -> list[int]:
        """The epochs run `run_id` kept a snapshot of, in order; empty for a run without snapshots."""
        try:
            files = self._client.list_artifacts(run_id, SNAPSHOT_FOLDER)
        except (MlflowException, OSError):
            return []
        return sorted(epoch for epoch in map(snapshot_epoch, (file.path for file in files)) if epoch is not None)

    def download_snapshot(self, run_id: str, epoch: int, folder: Path) -> Path:
        """The `.keras` file of run `run_id` after `epoch` (optimizer state included), downloaded into `folder`
        and checked against the SHA-256 recorded when it was saved (runs logged before that have none)."""
        return self._download_snapshot_file(run_id, epoch, snapshot_model_file(epoch), folder)

    def snapshot_probabilities(self, run_id: str, epoch: int) -> np.ndarray:
        """The run's test-image probabilities after `epoch`, (images, classes) float32, in test order,
        checked like the snapshot's model."""
        with tempfile.TemporaryDirectory() as tmp:
            path = self._download_snapshot_file(run_id, epoch, snapshot_probabilities_file(epoch), Path(tmp))
            with np.load(path, allow_pickle=False) as arrays:
                return arrays["probabilities"].astype(np.float32)

    def load_snapshot_model(self, run_id: str, epoch: int):
        """The run's model as it was after `epoch`, checked (see `download_snapshot`), loaded with safe_mode=True."""
        with tempfile.TemporaryDirectory() as tmp:
            return load_keras_file(self.download_snapshot(run_id, epoch, Path(tmp)), snapshot_name(run_id, epoch))

    def _download_snapshot_file(self, run_id: str, epoch: int, artifact_file: str, folder: Path) -> Path:
        return self._download_checked(run_id, artifact_file, folder,
                                      f"Run {run_id} has no snapshot after epoch {epoch}.",
                                      f"{snapshot_name(run_id, epoch)} does not match the checksum recorded when it "
                                      "was saved")

    def _download_checked(self, run_id: str, artifact_file: str, folder: Path, missing: str, changed: str) -> Path:
        """`artifact_file` of the run, downloaded into `folder` and checked against the SHA-256 its tag
        (`sha256_tag`) recorded when it was logged; files logged before checksums have none and pass.
        InputError `missing` when it isn't there, "`changed`: it was changed after training." when it differs."""
        try:
            path = Path(self._client.download_artifacts(run_id, artifact_file, str(folder)))
        except Exception:  # MLflow raises several types for a missing artifact
            raise InputError(missing) from None
        recorded = self._runs([run_id])[0].data.tags.get(sha256_tag(artifact_file))
        if recorded and file_sha256(path) != recorded:
            raise InputError(f"{changed}: it was changed after training.")
        return path


def snapshot_name(run_id: str, epoch: int) -> str:
    """How messages name run `run_id`'s snapshot after `epoch`."""
    return f"The snapshot of run {run_id} at epoch {epoch}"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex (read a block at a time)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_keras_file(path: Path, what: str):
    """A `.keras` file loaded with safe_mode=True; InputError "<what> can't be loaded safely ..."."""
    import keras

    import cnnkit.models  # noqa: F401  (registers cnnkit's layers and schedules for loading)

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception:  # Keras' refusals and a damaged file's errors come in many types and may quote the file
        _log.warning("%s could not be loaded", what, exc_info=True)
        raise InputError(f"{what} can't be loaded safely: it holds code (such as a Lambda layer) or parts cnnkit "
                         "doesn't know, or the file is damaged.") from None

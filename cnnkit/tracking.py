"""Everything MLflow: where runs live, buffered logging with explicit run ids, artifacts,
and loading a run's config and model back.

Only this module talks to MLflow, and only through `MlflowClient` (no global active run),
so several training threads can log at once.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from cnnkit.config import TrainConfig
from cnnkit.errors import InputError

DEFAULT_EXPERIMENT = "cnnkit"
MODEL_ARTIFACT = "model/model.keras"
_MAX_METRICS_PER_CALL = 1000  # MLflow's log_batch limit


def default_store_dir() -> Path:
    return Path.cwd() / "mlruns"


def default_tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else SQLite at ./mlruns/mlflow.db."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_store_dir() / 'mlflow.db'}"


def make_client(tracking_uri: str | None = None) -> MlflowClient:
    uri = tracking_uri or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


_experiment_lock = threading.Lock()


def experiment_id(client: MlflowClient, name: str = DEFAULT_EXPERIMENT) -> str:
    """The id of experiment `name`, created on first use. With a local SQLite store its
    artifacts go next to the database (mlruns/artifacts), not into the working directory."""
    with _experiment_lock:
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        uri = client.tracking_uri
        location = None
        if uri.startswith("sqlite:///"):
            location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
        return client.create_experiment(name, artifact_location=location)


@functools.cache
def git_commit() -> str:
    """The commit of the cnnkit checkout, with '-dirty' when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


class RunLogger:
    """Writes to one MLflow run. Metrics are buffered and sent in batches, at most every
    `flush_seconds`, so per-batch logging costs no store round-trip per batch."""

    def __init__(self, client: MlflowClient, run_id: str, flush_seconds: float = 2.0):
        self.client, self.run_id, self.flush_seconds = client, run_id, flush_seconds
        self._buffer: list[Metric] = []
        self._last_flush = time.monotonic()

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        timestamp = int(time.time() * 1000)
        self._buffer += [Metric(key, float(value), timestamp, step) for key, value in values.items()]
        if len(self._buffer) >= _MAX_METRICS_PER_CALL or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        while self._buffer:
            chunk, self._buffer = self._buffer[:_MAX_METRICS_PER_CALL], self._buffer[_MAX_METRICS_PER_CALL:]
            self.client.log_batch(self.run_id, metrics=chunk)
        self._last_flush = time.monotonic()

    def log_params(self, params: dict[str, Any]) -> None:
        self.client.log_batch(self.run_id, params=[Param(key, str(value)) for key, value in params.items()])

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(key, str(value)) for key, value in tags.items()])

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def log_json(self, value: Any, artifact_file: str) -> None:
        self.log_text(json.dumps(value, indent=1), artifact_file)

    def log_table(self, table: pd.DataFrame, artifact_file: str) -> None:
        self.log_text(table.to_csv(index=False), artifact_file)

    def log_file(self, local_path: Path, artifact_path: str) -> None:
        self.client.log_artifact(self.run_id, str(local_path), artifact_path)

    def log_arrays(self, arrays: dict[str, np.ndarray], artifact_file: str) -> None:
        """Arrays as an .npz (no pickled objects, so it loads with allow_pickle=False)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_file).name
            np.savez_compressed(path, **arrays)
            self.log_file(path, str(Path(artifact_file).parent))

    def log_model(self, model) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(MODEL_ARTIFACT).name
            model.save(path)
            self.log_file(path, str(Path(MODEL_ARTIFACT).parent))

    def finish(self, status: str, error: str | None = None) -> None:
        """End the run as FINISHED, FAILED or KILLED, after writing what is buffered."""
        try:
            self.flush()
            if error:
                self.set_tags({"cnnkit.error": error[:5000]})
        finally:
            self.client.set_terminated(self.run_id, status)


def start_run(
    client: MlflowClient, config: TrainConfig, experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> RunLogger:
    """Create a run holding the config as params and provenance as tags."""
    import keras

    from cnnkit import __version__

    run = client.create_run(
        experiment_id(client, experiment),
        run_name=run_name or f"{config.arch} on {config.dataset}",
        tags={
            "cnnkit.version": __version__,
            "cnnkit.git_commit": git_commit(),
            "keras.backend": keras.backend.backend(),
            "keras.version": keras.__version__,
            **(tags or {}),
        },
    )
    logger = RunLogger(client, run.info.run_id)
    logger.log_params(config.to_params())
    return logger


def config_of_run(client: MlflowClient, run_id: str) -> TrainConfig:
    """The config a run was launched with, ready to edit and relaunch."""
    return TrainConfig.from_params(client.get_run(run_id).data.params)


def load_json_artifact(client: MlflowClient, run_id: str, artifact_file: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client.download_artifacts(run_id, artifact_file, tmp)).read_text())


def load_table_artifact(client: MlflowClient, run_id: str, artifact_file: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_csv(io.StringIO(Path(client.download_artifacts(run_id, artifact_file, tmp)).read_text()))


def load_model(client: MlflowClient, run_id: str):
    """A run's trained model, loaded with safe_mode=True (no code from the artifact runs)."""
    import keras

    import cnnkit.tricks  # noqa: F401  (registers cnnkit's layers and schedules for deserialisation)

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, MODEL_ARTIFACT, tmp)
        except Exception as error:  # MLflow raises several types for a missing artifact
            raise InputError(f"Run {run_id} has no saved model ({error}).") from None
        return keras.saving.load_model(path, safe_mode=True)

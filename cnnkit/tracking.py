"""Everything MLflow: where runs live, buffered logging with explicit run ids, artifacts,
loading a run's config and model back, the runs table and a run's curves, renaming, tagging
and deleting runs, and ending runs whose process died.

Only this module talks to MLflow, and only through `MlflowClient` (no global active run),
so several training threads can log at once.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import json
import math
import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cnnkit.config import TrainConfig, describe_tricks
from cnnkit.errors import InputError

DEFAULT_EXPERIMENT = "cnnkit"
MODEL_ARTIFACT = "model/model.keras"
_MAX_METRICS_PER_CALL = 1000  # MLflow's log_batch limit
_MAX_RESULTS_PER_CALL = 50_000  # MLflow's search limit
RESERVED_TAG_PREFIXES = ("mlflow.", "cnnkit.", "keras.")  # tags written by MLflow and cnnkit, not by people
RUN_COLUMNS = ("run_id", "name", "status", "dataset", "arch", "tricks", "test_accuracy", "val_accuracy", "epochs",
               "duration_s", "start_time", "tags")
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds")


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
            "cnnkit.host": socket.gethostname(),
            "cnnkit.pid": str(os.getpid()),
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


# ---- stale runs ------------------------------------------------------------------------


def kill_stale_runs(client: MlflowClient) -> list[str]:
    """End as KILLED the RUNNING runs whose training process is gone, and return their ids.

    Looks through every active experiment, since `train` can log to any of them. A run is
    stale when its `cnnkit.host` tag is this machine and its `cnnkit.pid` is no live process.
    Runs from other machines (we can't tell) and runs without these tags (other tools, older
    cnnkit) are left alone; the current process is alive, so its own runs are never touched.
    A dead pid reused by a new process counts as alive: a stale run is missed, never a live
    one killed.
    """
    host = socket.gethostname()
    experiments = _paged(lambda size, token: client.search_experiments(max_results=size, page_token=token))
    experiment_ids = [experiment.experiment_id for experiment in experiments]
    killed = []
    for run in _search_runs(client, experiment_ids, "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        pid = tags.get("cnnkit.pid", "")
        if tags.get("cnnkit.host") != host or not pid.isdigit() or _process_alive(int(pid)):
            continue
        RunLogger(client, run.info.run_id).finish(
            "KILLED", f"The process training this run stopped (pid {pid}) before it finished."
        )
        killed.append(run.info.run_id)
    return killed


def _process_alive(pid: int) -> bool:
    """False only when no process `pid` surely exists. Pids <= 0 name process groups, and on
    Windows os.kill would terminate the process, so those count as alive unchecked."""
    if pid <= 0 or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)  # signal 0: checks existence and permission, delivers nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# ---- the runs table --------------------------------------------------------------------


def runs_frame(client: MlflowClient, experiment: str = DEFAULT_EXPERIMENT, max_results: int = 5000) -> pd.DataFrame:
    """One row per run of `experiment` (deleted runs left out), newest first, with the
    columns in `RUN_COLUMNS`. One paged search, no per-run queries: the latest metric values,
    params and tags all come with it."""
    found = client.get_experiment_by_name(experiment)
    if found is None or found.lifecycle_stage == "deleted":
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    with _gc_paused():
        runs = _search_runs(client, [found.experiment_id], max_results=max_results)
    now_ms = time.time() * 1000
    rows = []
    for run in runs:
        info, params, metrics = run.info, run.data.params, run.data.metrics
        end_ms = now_ms if info.status == "RUNNING" else info.end_time
        rows.append((
            info.run_id, info.run_name, info.status, params.get("dataset", ""), params.get("arch", ""),
            describe_tricks(params), metrics.get("test_accuracy", math.nan), metrics.get("val_accuracy", math.nan),
            params.get("epochs"), (end_ms - info.start_time) / 1000 if end_ms and info.start_time else math.nan,
            info.start_time, _user_tags(run.data.tags),
        ))
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    frame["epochs"] = pd.to_numeric(frame["epochs"], errors="coerce").astype("Int64")
    frame["start_time"] = pd.to_datetime(frame["start_time"], unit="ms", utc=True)
    return frame


@contextlib.contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector while MLflow builds tens of thousands of row
    objects at once (500 runs: ~28k params, metrics and tags). Collections triggered by those
    allocations re-scan the whole heap (large once Keras is loaded) and cost more than the
    query itself. Whatever becomes garbage meanwhile is collected after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _user_tags(tags: dict[str, str]) -> str:
    """People's tags as "key" or "key=value", comma-joined."""
    return ", ".join(
        f"{key}={value}" if value else key
        for key, value in sorted(tags.items())
        if not key.startswith(RESERVED_TAG_PREFIXES)
    )


def _search_runs(client: MlflowClient, experiment_ids: list[str], filter_string: str = "",
                 max_results: float = math.inf) -> list:
    """Active (not deleted) runs, newest first."""
    return _paged(
        lambda size, token: client.search_runs(
            experiment_ids, filter_string, ViewType.ACTIVE_ONLY, size, ["attributes.start_time DESC"], token
        ),
        max_results,
    )


def _paged(fetch, limit: float = math.inf) -> list:
    """Up to `limit` items from `fetch(max_results, page_token)`, in as few pages as MLflow allows."""
    items: list = []
    token = None
    while len(items) < limit:
        page = fetch(min(limit - len(items), _MAX_RESULTS_PER_CALL), token)
        items += page
        token = page.token
        if not token:
            break
    return items


# ---- one run's curves ------------------------------------------------------------------


def run_history(client: MlflowClient, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's per-epoch metrics (column `epoch` plus those of `EPOCH_METRICS` it logged) and
    per-batch curves (`step`, `batch_loss`, `batch_lr`). `batch_lr` is logged only when the
    rate changes, so it is carried forward to every batch."""
    epochs = _history_frame(client, run_id, EPOCH_METRICS, "epoch")
    batches = _history_frame(client, run_id, ("batch_loss", "batch_lr"), "step")
    batches = batches.reindex(columns=["step", "batch_loss", "batch_lr"])
    batches["batch_lr"] = batches["batch_lr"].ffill()
    return epochs, batches.dropna(subset=["batch_loss"]).reset_index(drop=True)


def _history_frame(client: MlflowClient, run_id: str, keys: tuple[str, ...], step_name: str) -> pd.DataFrame:
    """The histories of `keys` side by side, one row per step; keys never logged get no column.
    A step logged twice keeps its latest value (histories come in time order)."""
    columns = {}
    for key in keys:
        history = client.get_metric_history(run_id, key)
        if history:
            columns[key] = pd.Series({metric.step: metric.value for metric in history}, dtype="float64")
    if not columns:
        return pd.DataFrame(columns=[step_name])
    return pd.DataFrame(columns).sort_index().rename_axis(step_name).reset_index()


# ---- managing runs ---------------------------------------------------------------------


def rename_run(client: MlflowClient, run_id: str, name: str) -> None:
    if not name.strip():
        raise InputError("A run's name can't be empty.")
    with _as_input_error():
        client.update_run(run_id, name=name.strip())


def set_run_tag(client: MlflowClient, run_id: str, key: str, value: str = "") -> None:
    """Set a person's tag on a run (`value` may be empty: the tag is then a plain label)."""
    key = _user_tag_key(key)
    with _as_input_error():
        client.set_tag(run_id, key, value)


def delete_run_tag(client: MlflowClient, run_id: str, key: str) -> None:
    key = _user_tag_key(key)
    with _as_input_error():
        client.delete_tag(run_id, key)


def delete_run(client: MlflowClient, run_id: str) -> None:
    """Soft delete: the run leaves the runs table; MLflow can still restore it."""
    with _as_input_error():
        client.delete_run(run_id)


def _user_tag_key(key: str) -> str:
    key = key.strip()
    if not key:
        raise InputError("A tag needs a name.")
    if key.startswith(RESERVED_TAG_PREFIXES):
        raise InputError(
            f"Tag '{key}' is reserved: names starting with {', '.join(RESERVED_TAG_PREFIXES)} are written by "
            "MLflow and cnnkit. Choose another name."
        )
    return key


@contextlib.contextmanager
def _as_input_error():
    """MLflow's complaints a person can act on (a bad tag name, a run or tag that is gone)
    as InputError; anything else (the store is down) passes through."""
    try:
        yield
    except MlflowException as error:
        if error.error_code not in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            raise
        raise InputError(error.message) from None

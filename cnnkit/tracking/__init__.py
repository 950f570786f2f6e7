"""Everything MLflow: where runs live, buffered logging with explicit run ids, artifacts,
loading a run's config and model back, the runs table and a run's curves, renaming, tagging
and deleting runs, ending runs whose process died, registering runs' models in the Model
Registry, and comparing runs: their results, settings, curves, evaluations and test data.

Only this module talks to MLflow, and only through `MlflowClient` (no global active run),
so several training threads can log at once. The app's pages reach runs through one object,
`RunStore`, and never see MLflow.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import io
import json
import logging
import math
import os
import posixpath
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, Run, RunInfo, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from mlflow.tracking import MlflowClient

from cnnkit import full_disk
from cnnkit.tracking import worker_process
from cnnkit.config import TrainConfig, describe_tricks, field_names
from cnnkit.config.data_loading import load_data
from cnnkit.datasets import Dataset
from cnnkit.datasets.uploads import name_file
from cnnkit.errors import InputError, one_line
from cnnkit.tracking.heartbeat import beat_tags, heartbeat_age, stale_after_seconds
from cnnkit.tracking.lineage import Lineage, lineage_of
from cnnkit.tracking.run_schema import (
    BATCH_LOSS, BATCH_LR, BATCH_METRICS, CONFUSION_MATRIX, DATA_FINGERPRINT_TAG, DATASET_SUMMARY, EPOCH_CURVES,
    EPOCH_METRICS, EPOCHS_TRAINED, ERROR_TAG, EVALUATION_FILES, EVALUATION_FOLDER, GIT_COMMIT_TAG, HOST_TAG,
    KERAS_BACKEND_TAG, KERAS_VERSION_TAG, MISTAKE_IMAGES, MISTAKES, MODEL_ARTIFACT, MODEL_SHA256_TAG, PER_CLASS,
    PID_TAG, RESERVED_TAG_PREFIXES, RESULT_METRICS, SNAPSHOT_FOLDER, TEST_ACCURACY, TEST_FINGERPRINT_TAG,
    UPLOADED_DATASET_FOLDER, VAL_ACCURACY, VERSION_TAG, sha256_tag, snapshot_epoch,
)
from cnnkit.tracking.run_schema import STUDY_CELL_TAG, STUDY_ID_TAG, STUDY_NAME_TAG, STUDY_SEED_TAG, STUDY_SIZE_TAG
from cnnkit.tracking.run_schema import snapshot_model as snapshot_model_file
from cnnkit.tracking.run_schema import snapshot_probabilities as snapshot_probabilities_file

DEFAULT_EXPERIMENT = "cnnkit"
_MAX_METRICS_PER_CALL = 1000  # MLflow's log_batch limit
_MAX_RESULTS_PER_CALL = 50_000  # MLflow's search limit
RUN_COLUMNS = ("run_id", "name", "status", "dataset", "arch", "tricks", TEST_ACCURACY, VAL_ACCURACY, "epochs",
               "duration_s", "start_time", "tags")


def default_store_dir() -> Path:
    return Path.cwd() / "mlruns"


def store_folder(tracking_uri: str | None = None) -> Path:
    """The folder for files kept beside the store: a SQLite store's own folder, else ./mlruns."""
    uri = tracking_uri or default_tracking_uri()
    return Path(uri.removeprefix("sqlite:///")).parent if uri.startswith("sqlite:///") else default_store_dir()


def store_place(tracking_uri: str) -> str:
    """Where the store keeps its data, for messages: a SQLite store's file, else its URI (no password)."""
    return tracking_uri.removeprefix("sqlite:///") if tracking_uri.startswith("sqlite:///") else _shown(tracking_uri)


def default_tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else SQLite at ./mlruns/mlflow.db."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_store_dir() / 'mlflow.db'}"


def login() -> tuple[str, str] | None:
    """(user, password) a tracking server with logins gets: MLFLOW_TRACKING_USERNAME and
    MLFLOW_TRACKING_PASSWORD, which MLflow's client sends too; None when no user is set."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    return (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", "")) if user else None


def describe_store(tracking_uri: str | None = None) -> str:
    """Where runs go, for people: the URI without any password in it, and the user logged in to a server."""
    uri = tracking_uri or default_tracking_uri()
    user = login()
    return f"{_shown(uri)} as {user[0]}" if user and uri.startswith(("http://", "https://")) else _shown(uri)


def _shown(uri: str) -> str:
    """The URI with a password in it masked."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    return parts._replace(netloc=f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")).geturl()


# ---- opening the store -----------------------------------------------------------------

STORE_LOCK_SECONDS = 300.0  # how long a process waits for another one setting up the same new store
STORE_REACH_SECONDS = 5.0  # how long the first request to an http(s) store may take
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MOVE_AWAY = "Move it away to start a new store, or point MLFLOW_TRACKING_URI at another one."


class StoreError(InputError):
    """The tracking store can't be opened: a damaged database, an unknown kind of URI, a server
    that doesn't answer. The message is one line naming the store."""


_ready_stores: set[tuple] = set()  # (URI, working folder, login) checked, and created if new, in this process
_ready_lock = threading.Lock()


def make_client(tracking_uri: str | None = None) -> MlflowClient:
    """A client on the store, which is checked once per process (a new SQLite store is created
    then, under a file lock, in WAL mode). StoreError says in one line why it can't be used."""
    uri = tracking_uri or default_tracking_uri()
    try:
        ready = (uri, os.getcwd(), login())  # a relative sqlite:/// path names another file from another folder
        with _ready_lock:
            if ready not in _ready_stores:
                _prepare_store(uri)
                _ready_stores.add(ready)
        return MlflowClient(tracking_uri=uri)
    except StoreError:
        raise
    except Exception as error:  # MLflow, SQLAlchemy, sqlite3 and requests each raise their own types
        raise StoreError(f"The tracking store {_shown(uri)} can't be used: {one_line(error)}") from None


def _prepare_store(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        _prepare_sqlite(Path(uri.removeprefix("sqlite:///")), uri)
    elif uri.startswith(("http://", "https://")):
        _check_reachable(uri)
    else:
        from mlflow.tracking.registry import UnsupportedModelRegistryStoreURIException

        try:
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
        except UnsupportedModelRegistryStoreURIException:  # MLflow's name for an unknown kind of URI, tracking included
            raise StoreError(f"The tracking store {_shown(uri)} is not a kind of store MLflow knows: use sqlite:///path/to/"
                             "mlflow.db, http(s)://server:port or a database URI such as postgresql://...") from None


def _prepare_sqlite(path: Path, uri: str) -> None:
    """Refuse a file that is not a whole MLflow store; create MLflow's tables in a new one once,
    however many processes start on it at the same moment; switch it to WAL mode, so readers don't
    wait for a writer (the mode is kept in the file); refresh the planner's statistics (ANALYZE
    on a sample: milliseconds), without which SQLite reads a run's metric history through the
    index on the metric's name alone, 0.1 ms at 50 runs but 20 ms at 10,000."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path.with_name(path.name + ".lock"), uri):
        _check_sqlite_file(path, uri)  # under the lock: a store another process is creating is never half made
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # MLflow creates a new store's tables here
        # Switching needs a moment alone with the file; when others are busy in it, a later start switches it.
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as connection, \
                contextlib.suppress(sqlite3.OperationalError):
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA analysis_limit=400")
            connection.execute("ANALYZE")


def _check_sqlite_file(path: Path, uri: str) -> None:
    """A StoreError for an existing file that is not a whole MLflow store (garbage, a truncated
    database, an empty file, another program's database, MLflow's tables missing), before
    SQLAlchemy sees it: MLflow would add its tables to it. Only a missing file is a new store."""
    if not path.exists():
        return
    if path.stat().st_size == 0 and not _has_content(path.with_name(path.name + "-wal")):
        raise StoreError(f"The tracking store {uri} is an empty file (0 bytes), not an MLflow store. {_MOVE_AWAY}")
    with path.open("rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise StoreError(f"The tracking store {uri} is damaged: the file is not an SQLite database. {_MOVE_AWAY}")
    page_size = int.from_bytes(header[16:18], "big")
    pages = int.from_bytes(header[28:32], "big")
    if path.stat().st_size < (65536 if page_size == 1 else page_size) * pages and not _sqlite_intact(path):
        raise StoreError(f"The tracking store {uri} is damaged: the database file is cut short. {_MOVE_AWAY}")
    _check_mlflow_tables(path, uri)


def _has_content(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


_MLFLOW_CORE_TABLES = ("experiments", "runs", "alembic_version")  # any of them: the file is meant as an MLflow store
_NEARLY_FULL_BYTES = 1 << 20  # less free space than this beside a store that can't be opened: the disk is full


def _check_mlflow_tables(path: Path, uri: str) -> None:
    """A StoreError unless the database holds MLflow's tables: those of its first schema and the
    schema version (later tables MLflow's migrations add to an older store), and all of today's
    when its version is the newest (a dropped table is then damage, not age)."""
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.db.utils import _get_latest_schema_revision  # it imports every model, filling Base's tables
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = db.execute("SELECT version_num FROM alembic_version").fetchone() \
                if "alembic_version" in tables else None
    except sqlite3.DatabaseError as error:
        if any(words in str(error) for words in ("not a database", "malformed")):
            raise StoreError(f"The tracking store {uri} is damaged: {one_line(error)}. {_MOVE_AWAY}") from None
        if shutil.disk_usage(path.parent).free < _NEARLY_FULL_BYTES:  # SQLite can't make its files beside it
            raise StoreError(f"The tracking store {uri} can't be opened: no space left on device in {path.parent}. "
                             "Free some disk space, then try again.") from None
        raise StoreError(f"The tracking store {uri} can't be read: {one_line(error)}.") from None
    if not tables.intersection(_MLFLOW_CORE_TABLES):
        held = f"its tables: {', '.join(sorted(tables))}" if tables else "it holds no tables"
        raise StoreError(f"The tracking store {uri} is an SQLite database but not an MLflow store ({held}). "
                         f"{_MOVE_AWAY}")
    expected = {*InitialBase.metadata.tables, "alembic_version"}
    if version and version[0] == _get_latest_schema_revision():
        expected |= set(Base.metadata.tables)
    missing = sorted(expected - tables)
    if missing:
        raise StoreError(f"The tracking store {uri} is damaged: MLflow's table{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} missing. Restore it from a "
                         "backup, or point MLFLOW_TRACKING_URI at another store.")


def _sqlite_intact(path: Path) -> bool:
    """SQLite's own quick check, for a file shorter than its header says (a checkpoint of a WAL
    database may be writing it right now)."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)) as connection:
            return connection.execute("PRAGMA quick_check(1)").fetchone() == ("ok",)
    except sqlite3.DatabaseError:
        return False


@contextlib.contextmanager
def _file_lock(path: Path, uri: str):
    """An exclusive lock on `path` between processes, given up with a StoreError after STORE_LOCK_SECONDS."""
    import fcntl

    with path.open("a") as file:
        deadline = time.monotonic() + STORE_LOCK_SECONDS
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"The tracking store {uri} has been locked by another process setting it up "
                                     f"for {STORE_LOCK_SECONDS:.0f} s (lock file {path}).") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _check_reachable(uri: str) -> None:
    """One request to MLflow's API, without MLflow's minutes of retries: no answer within
    STORE_REACH_SECONDS, an answer that is not MLflow's, or a refused login is a StoreError."""
    import requests

    user = login()
    try:
        answer = requests.get(f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search", params={"max_results": 1},
                              auth=user, timeout=STORE_REACH_SECONDS)
    except requests.RequestException:
        raise StoreError(f"The tracking store {_shown(uri)} can't be reached: no answer within "
                         f"{STORE_REACH_SECONDS:g} s. Is the MLflow server running, and is the address right?") from None
    if answer.status_code == 401:
        raise StoreError(_login_refused(uri))
    if answer.status_code not in (200, 403):
        raise StoreError(f"The tracking store {_shown(uri)} answered HTTP {answer.status_code} where "
                         "MLflow's API should be: is it an MLflow tracking server?")


_PERMISSIONS_TO_WRITE = ("EDIT", "MANAGE")  # MLflow's basic-auth permissions whose holders may create runs


def check_can_launch(client: MlflowClient, experiment: str = DEFAULT_EXPERIMENT) -> None:
    """StoreError when the user logged in to a tracking server may not create runs in `experiment`
    (a READ permission), asked of MLflow's auth app before any run exists, and before the experiment
    does (see `_permission`). Stores without logins pass."""
    user = _server_login(client)
    if user is None:
        return
    with _refusal_as_store_error(client.tracking_uri, experiment):
        found = client.get_experiment_by_name(experiment)
    permission = _permission(client, user, found.experiment_id if found else "*")
    if permission is not None and permission not in _PERMISSIONS_TO_WRITE:
        raise StoreError(_denied(client.tracking_uri, experiment, permission))


def _server_login(client: MlflowClient) -> tuple[str, str] | None:
    """The login (user, password) to `client`'s tracking server; None for a store without logins."""
    user = login()
    return user if user is not None and client.tracking_uri.startswith(("http://", "https://")) else None


def _permission(client: MlflowClient, user: tuple[str, str], experiment: str) -> str | None:
    """The logged-in `user`'s permission on experiment id `experiment`, from MLflow's auth app. "*" asks
    for experiments at large, which a new one is created under: a grant on all of them, else the
    server's default_permission (MLflow lets any user create an experiment and makes them its manager,
    so a read-only user's first launch would otherwise make the shared experiment theirs). MANAGE for the
    server's admins, who may do anything. None when the server doesn't say (no auth app, unreachable:
    creating the run says what is wrong)."""
    import requests

    base = client.tracking_uri.rstrip("/")
    try:
        answer = requests.get(f"{base}/api/3.0/mlflow/users/permissions/get", auth=user, timeout=STORE_REACH_SECONDS,
                              params={"username": user[0], "resource_type": "experiment", "resource_id": experiment})
        permission = answer.json().get("permission") if answer.ok else None
        if permission is None or permission in _PERMISSIONS_TO_WRITE:
            return permission
        account = requests.get(f"{base}/api/2.0/mlflow/users/get", params={"username": user[0]}, auth=user,
                               timeout=STORE_REACH_SECONDS)
        is_admin = account.ok and account.json().get("user", {}).get("is_admin") is True
    except (requests.RequestException, ValueError):
        return None
    return "MANAGE" if is_admin else permission


def _denied(uri: str, experiment: str, permission: str | None = None) -> str:
    user = login()
    held = f" (permission {permission})" if permission else ""
    return (f"User {user[0] if user else '(none)'} may not launch runs in experiment '{experiment}' on "
            f"{_shown(uri)}{held}: that needs EDIT permission, which the server's admin can grant.")


def _login_refused(uri: str) -> str:
    user = login()
    if user is None:
        return (f"The tracking server {_shown(uri)} needs a login: set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD.")
    return (f"The tracking server {_shown(uri)} refused the login of user {user[0]}: wrong user name or password "
            "(MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD).")


@contextlib.contextmanager
def _refusal_as_store_error(uri: str, experiment: str):
    """A tracking server's refusal (login or permission) as one StoreError line; other errors pass."""
    try:
        yield
    except MlflowException as error:
        if error.error_code == "PERMISSION_DENIED":
            raise StoreError(_denied(uri, experiment)) from None
        if error.error_code == "UNAUTHENTICATED":
            raise StoreError(_login_refused(uri)) from None
        raise


_experiment_lock = threading.Lock()


def experiment_id(client: MlflowClient, name: str = DEFAULT_EXPERIMENT) -> str:
    """The id of experiment `name`, created on first use, though not by a tracking server's user who
    may not write to experiments at large (see `_permission`): PERMISSION_DENIED. With a local SQLite
    store its artifacts go next to the database (mlruns/artifacts), not into the working directory."""
    with _experiment_lock:
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        user = _server_login(client)
        permission = None if user is None else _permission(client, user, "*")
        if permission is not None and permission not in _PERMISSIONS_TO_WRITE:
            raise MlflowException(f"User {user[0]} may not create experiment {name!r} (permission {permission}).",
                                  error_code=databricks_pb2.PERMISSION_DENIED)
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


STORE_PATIENCE_SECONDS = float(os.environ.get("CNNKIT_STORE_PATIENCE_S", 600))  # a busy store fails a run after this
STOP_GRACE_SECONDS = 2.0  # after a stop request, how long a refused write may still be retried
_RETRY_FIRST_SECONDS, _RETRY_MAX_SECONDS = 0.5, 15.0  # backoff between attempts at a refused write
_PERMANENT_ERRORS = ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "INVALID_STATE",  # retrying can't help
                     "PERMISSION_DENIED", "UNAUTHENTICATED")
# SQLite's words for a store that waiting can't mend (MLflow reports them all as TEMPORARILY_UNAVAILABLE)
_BROKEN_STORE_WORDS = ("no such table", "no such column", "has no column named", "file is not a database",
                       "database disk image is malformed", "readonly database")
_log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The store refused every write for longer than the logger's patience."""


class StoreWaitStopped(StoreUnavailable):
    """A stop was requested (cancel, SIGTERM) while the store was refusing a write: not waited for longer."""


def _passes(error: Exception) -> bool:
    """Whether waiting may mend `error` (a locked or unreachable store): not a refusal, a full disk or a broken store."""
    if isinstance(error, MlflowException) and error.error_code in _PERMANENT_ERRORS:
        return False
    return not full_disk.is_disk_full(error) and not _broken_store(error)


def _broken_store(error: Exception) -> bool:
    """Whether `error` (or what it was raised from) says the store itself is broken."""
    said = " ".join(str(cause) for cause in full_disk.causes(error)).lower()
    return any(words in said for words in _BROKEN_STORE_WORDS)


class Patience:
    """Store calls retried with backoff while the store refuses them (locked, unreachable), until
    calls of that `kind` (the store, the run's artifact folder) have been refused for `seconds` in
    a row (STORE_PATIENCE_SECONDS by default), or one call for that long whatever others did: then
    StoreUnavailable, "tracking store busy/unreachable since <time>". After that each call is tried
    once, and a failure is logged, not raised. A full disk or a broken store is never retried: its
    error is raised at once. Once `stop` is set (a cancel, a SIGTERM) refused calls are retried for
    STOP_GRACE_SECONDS at most; after that a call whose kind is refusing is not tried:
    StoreWaitStopped. Thread-safe; one per run."""

    def __init__(self, seconds: float | None = None, stop: threading.Event | None = None):
        self.seconds = STORE_PATIENCE_SECONDS if seconds is None else seconds
        self.stop = stop
        self._lock = threading.Lock()
        self._refused_since: dict[str, float] = {}  # kind -> time.time() of its first refused call in a row
        self._stopped_at: float | None = None  # time.monotonic() when a call first found `stop` set
        self._gave_up: StoreUnavailable | None = None

    @property
    def gave_up(self) -> StoreUnavailable | None:
        return self._gave_up

    def stop_grace_left(self) -> float:
        """Seconds a stopping run may still wait for the store (inf while no stop was requested)."""
        if self.stop is None or not self.stop.is_set():
            return math.inf
        with self._lock:
            self._stopped_at = self._stopped_at or time.monotonic()
            return max(0.0, self._stopped_at + STOP_GRACE_SECONDS - time.monotonic())

    def call(self, action, kind: str = "store"):
        """action(), retried; its result (None for a failure after giving up)."""
        delay, refused_at = _RETRY_FIRST_SECONDS, None  # when this call was first refused
        while True:
            if kind in self._refused_since and not self.stop_grace_left():
                raise StoreWaitStopped(f"stopped while the tracking store was refusing writes ({kind})")
            try:
                result = action()
            except Exception as error:
                if not _passes(error):
                    raise
                with self._lock:
                    now = time.time()
                    refused_at = refused_at or now
                    since = min(self._refused_since.setdefault(kind, now), refused_at)  # others' successes don't count
                    if self._gave_up:
                        _log.warning("The tracking store is still unavailable: %s", one_line(error))
                        return None
                    waited = now - since
                    if waited >= self.seconds:
                        self._gave_up = StoreUnavailable(
                            "tracking store busy/unreachable since "
                            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))} ({one_line(error)})")
                        raise self._gave_up from None
                grace = self.stop_grace_left()
                if not grace:
                    raise StoreWaitStopped(f"stopped while the tracking store was refusing writes ({one_line(error)})")
                pause = min(delay, self.seconds - waited, grace)
                if self.stop is None or grace < math.inf:
                    time.sleep(pause)
                else:
                    self.stop.wait(pause)  # a stop request ends the pause; the grace starts
                delay = min(2 * delay, _RETRY_MAX_SECONDS)
            else:
                with self._lock:
                    self._refused_since.pop(kind, None)
                return result


class RunLogger:
    """Writes to one MLflow run without holding training up.

    Metrics are buffered and written by the logger's own thread in batches, at most every
    `flush_seconds`, so per-batch logging costs no store round-trip. Any write the store refuses
    (locked, unreachable) is retried with backoff, metrics kept in memory meanwhile: a busy store
    delays logging, never training. Only when the store has refused writes for longer than the
    `patience` allows does logging raise StoreUnavailable, so the run can end FAILED.
    """

    def __init__(self, client: MlflowClient, run_id: str, flush_seconds: float = 2.0, patience: Patience | None = None):
        self.client, self.run_id, self.flush_seconds = client, run_id, flush_seconds
        self.patience = patience or Patience()
        self._changed = threading.Condition()  # guards everything below
        self._pending: list[Metric] = []  # logged, not yet in the store, oldest first
        self._flush_requested = False
        self._closed = False  # finished: the writer thread ends
        self._writer_error: Exception | None = None  # why the writer stopped: StoreUnavailable, or a permanent refusal
        self._writer: threading.Thread | None = None

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        timestamp = int(time.time() * 1000)
        with self._changed:
            self._raise_writer_error()
            self._pending += [Metric(key, float(value), timestamp, step) for key, value in values.items()]
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_metrics, name=f"RunLogger {self.run_id[:8]}",
                                                daemon=True)
                self._writer.start()
            if len(self._pending) >= _MAX_METRICS_PER_CALL:
                self._changed.notify_all()

    def flush(self, wait: bool = False) -> None:
        """Have the buffered metrics written now. With `wait`, return once the store holds every
        metric logged so far (a checkpoint must not claim epochs the store lacks): that waits for a
        busy store up to the patience, then raises StoreUnavailable, as a failed write does."""
        with self._changed:
            self._raise_writer_error()
            self._flush_requested = True
            self._changed.notify_all()
            if wait:
                self._wait_written()
                self._raise_writer_error()

    def log_params(self, params: dict[str, Any]) -> None:
        self._store_call(lambda: self.client.log_batch(self.run_id, params=[Param(key, str(value))
                                                                      for key, value in params.items()]))

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._store_call(lambda: self.client.log_batch(self.run_id, tags=[RunTag(key, str(value))
                                                                    for key, value in tags.items()]))

    def log_text(self, text: str, artifact_file: str) -> None:
        self._artifact_call(lambda: self.client.log_text(self.run_id, text, artifact_file))

    def log_json(self, value: Any, artifact_file: str) -> None:
        self.log_text(json.dumps(value, indent=1), artifact_file)

    def log_table(self, table: pd.DataFrame, artifact_file: str) -> None:
        self.log_text(table.to_csv(index=False), artifact_file)

    def log_file(self, local_path: Path, artifact_path: str, checksum: bool = False) -> None:
        """The file under `artifact_path`; with `checksum`, its SHA-256 first, as the tag `sha256_tag`
        names, which loading it checks (so no such file is ever in the store unchecked)."""
        if checksum:
            self.set_tags({sha256_tag(f"{artifact_path}/{local_path.name}"): file_sha256(local_path)})
        self._artifact_call(lambda: self.client.log_artifact(self.run_id, str(local_path), artifact_path))

    def log_arrays(self, arrays: dict[str, np.ndarray], artifact_file: str, checksum: bool = False) -> None:
        """Arrays as an .npz (no pickled objects, so it loads with allow_pickle=False)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_file).name
            with full_disk.named(tempfile.gettempdir()):
                np.savez_compressed(path, **arrays)
            self.log_file(path, str(Path(artifact_file).parent), checksum)

    def log_model(self, model) -> None:
        """The model as a .keras file, and its SHA-256 as a tag, which `load_model` checks."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(MODEL_ARTIFACT).name
            with full_disk.named(tempfile.gettempdir()):
                model.save(path)
            self.log_file(path, str(Path(MODEL_ARTIFACT).parent), checksum=True)

    def finish(self, status: str, error: str | None = None) -> None:
        """End the run as FINISHED, FAILED or KILLED, after writing what is buffered. When the store
        stays away past the patience, the run is left RUNNING there (the stale-run check ends it
        once this process is gone) and this returns all the same."""
        try:
            try:
                self._write_pending()
            finally:  # the note too when metrics could not be written
                if error:
                    self.set_tags({ERROR_TAG: error[:5000]})
        finally:
            with self._changed:
                self._closed = True
                self._changed.notify_all()
            self._store_call(lambda: self.client.set_terminated(self.run_id, status))

    # ---- retrying ---------------------------------------------------------------------

    def _store_call(self, action):
        """A write to the store through the patience: a full disk names the store, a broken one is a StoreError."""
        with full_disk.named(lambda: store_place(self.client.tracking_uri)):
            try:
                return self.patience.call(action)
            except MlflowException as error:
                if not _broken_store(error):
                    raise
                raise StoreError(f"The tracking store {_shown(self.client.tracking_uri)} can't be written: "
                                 f"{one_line(error)}. {_MOVE_AWAY}") from None

    def _artifact_call(self, action):
        """A write of artifacts through the patience; a full disk names the run's artifact folder."""
        with full_disk.named(self._artifact_place):
            return self.patience.call(action, kind="artifacts")

    def _artifact_place(self) -> str:
        """Where the run's artifacts go: a folder, or the URI of a remote artifact store."""
        try:
            uri = self.client.get_run(self.run_id).info.artifact_uri
        except Exception:  # the store may be what is failing
            return "the run's artifact folder"
        return urllib.parse.unquote(urllib.parse.urlsplit(uri).path) if uri.startswith("file:") else uri

    def _write_metrics(self) -> None:
        """The writer thread: writes buffered metrics when asked to or every `flush_seconds`,
        oldest first; ends when the run is finished, or at StoreUnavailable or a refusal retrying
        can't mend."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._flush_requested or self._closed
                                       or len(self._pending) >= _MAX_METRICS_PER_CALL, timeout=self.flush_seconds)
                if self._closed:
                    return
                self._flush_requested = False
                chunk = self._pending[:_MAX_METRICS_PER_CALL]
            try:
                if self.patience.gave_up:  # another write gave up: a failure now would pass unnoticed
                    raise self.patience.gave_up
                if chunk:
                    self._store_call(lambda: self.client.log_batch(self.run_id, metrics=chunk))
            except Exception as error:
                with self._changed:
                    self._writer_error = error
                    self._changed.notify_all()
                return
            with self._changed:
                del self._pending[:len(chunk)]  # only this thread removes, and only what it wrote
                self._changed.notify_all()

    def _write_pending(self) -> None:
        """Wait until the writer has written every buffered metric (a stopping run waits out the
        stop's grace at most); when it gave up, try once more."""
        with self._changed:
            grace = self.patience.stop_grace_left()
            written = self._wait_written(None if grace == math.inf else grace)
            error, left = self._writer_error, list(self._pending)
        if not written:  # the writer is still at it: writing its metrics here too could store them twice
            raise StoreWaitStopped("stopped before the tracking store took the run's last metrics")
        if error is not None and not isinstance(error, StoreUnavailable):
            raise error
        for start in range(0, len(left), _MAX_METRICS_PER_CALL):  # the store gave up: one last attempt each
            chunk = left[start:start + _MAX_METRICS_PER_CALL]
            self._store_call(lambda chunk=chunk: self.client.log_batch(self.run_id, metrics=chunk))

    def _wait_written(self, timeout: float | None = None) -> bool:
        """Lock held. Have the writer write until nothing is buffered or it stopped (metrics logged
        meanwhile, such as a heartbeat's, included); whether that happened within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending and self._writer_error is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._flush_requested = True
            self._changed.notify_all()
            self._changed.wait(left)
        return True

    def _raise_writer_error(self) -> None:
        if self._writer_error is not None:
            raise self._writer_error


def start_run(
    client: MlflowClient, config: TrainConfig, experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None,
    tags: dict[str, str] | None = None, stop: threading.Event | None = None,
) -> RunLogger:
    """Create a run holding the config as params and provenance as tags. A busy store is waited
    for (see `Patience`; `stop` set ends the wait); StoreUnavailable when it stays away."""
    import keras

    from cnnkit import __version__

    patience = Patience(stop=stop)  # a busy store delays the run's start too, up to the same limit
    with _refusal_as_store_error(client.tracking_uri, experiment), full_disk.named(store_place(client.tracking_uri)):
        in_experiment = patience.call(lambda: experiment_id(client, experiment))
        run = patience.call(lambda: client.create_run(
            in_experiment,
            run_name=run_name or f"{config.arch} on {config.dataset}",
            tags={
                VERSION_TAG: __version__,
                GIT_COMMIT_TAG: git_commit(),
                KERAS_BACKEND_TAG: keras.backend.backend(),
                KERAS_VERSION_TAG: keras.__version__,
                **_worker_tags(),
                **(tags or {}),
            },
        ))
    logger = RunLogger(client, run.info.run_id, patience=patience)
    logger.log_params(config.to_params())
    return logger


def _worker_tags() -> dict[str, str]:
    """Who trains the run (host and pid, for people) and its first heartbeat (for `kill_stale_runs`)."""
    return {**worker_process.this_process(), **beat_tags()}


def schedule_run(client: MlflowClient, config: TrainConfig, experiment: str = DEFAULT_EXPERIMENT,
                 run_name: str | None = None, tags: dict[str, str] | None = None) -> str:
    """Create a run for a worker elsewhere to train (`attach_run`), SCHEDULED until it starts (so no
    stale-run check takes a queued job's run for a dead one); its id."""
    logger = start_run(client, config, experiment, run_name, tags)
    logger.patience.call(lambda: client.update_run(logger.run_id, status="SCHEDULED"))
    return logger.run_id


def attach_run(client: MlflowClient, run_id: str) -> RunLogger:
    """Start training a SCHEDULED run in this process: RUNNING, its worker tags naming this process.
    InputError when it is not waiting for a worker (cancelled meanwhile, or taken by another)."""
    import keras

    status = run_status(client, run_id)
    if status != "SCHEDULED":
        raise InputError(f"Run {run_id} is {status}, not waiting for a worker.")
    logger = RunLogger(client, run_id)
    logger.set_tags({**_worker_tags(), KERAS_BACKEND_TAG: keras.backend.backend()})
    client.update_run(run_id, status="RUNNING")  # after the tags: a RUNNING run never names a process gone
    return logger


def reopen_run(client: MlflowClient, run_id: str, tags: dict[str, Any]) -> RunLogger:
    """Mark an ended run RUNNING again, trained by this process from now on (a resumed run), with a
    fresh heartbeat so `kill_stale_runs` leaves it alone; the note of how it ended last time goes."""
    logger = RunLogger(client, run_id)
    with _as_input_error():
        logger.set_tags({**_worker_tags(), **tags})  # first: RUNNING with the killed process's tags would be stale
        client.update_run(run_id, status="RUNNING")
    if ERROR_TAG in client.get_run(run_id).data.tags:
        client.delete_tag(run_id, ERROR_TAG)
    return logger


def run_status(client: MlflowClient, run_id: str) -> str:
    """RUNNING, FINISHED, FAILED or KILLED; InputError for a run that is not in the store."""
    with _as_input_error():
        return client.get_run(run_id).info.status


def logged_steps(client: MlflowClient, run_id: str, key: str) -> list[int]:
    """The steps at which the run logged metric `key`, in the order the store gives them."""
    return [metric.step for metric in client.get_metric_history(run_id, key)]


def last_logged_step(client: MlflowClient, run_id: str, key: str) -> int:
    """The highest step at which the run logged metric `key` (0 when never)."""
    return max(logged_steps(client, run_id, key), default=0)


def config_of_run(client: MlflowClient, run_id: str) -> TrainConfig:
    """The config a run was launched with, ready to edit and relaunch."""
    return TrainConfig.from_params(client.get_run(run_id).data.params)


def load_json_artifact(client: MlflowClient, run_id: str, artifact_file: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client.download_artifacts(run_id, artifact_file, tmp)).read_text())


def dataset_summary(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """What `train` logged about the run's data: name, input shape, split counts, fingerprint."""
    try:
        return load_json_artifact(client, run_id, DATASET_SUMMARY)
    except (MlflowException, OSError, ValueError):
        raise InputError(f"Run {run_id} has no summary of its data: it stopped before loading it.") from None


def load_table_artifact(client: MlflowClient, run_id: str, artifact_file: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_csv(io.StringIO(Path(client.download_artifacts(run_id, artifact_file, tmp)).read_text()))


def load_model(client: MlflowClient, run_id: str):
    """A run's trained model, once its file is checked against the SHA-256 recorded when it was
    logged (runs logged before that have none and load unchecked), loaded with safe_mode=True (no
    code from the artifact runs). A changed, refused or damaged file is an InputError naming the run."""
    with tempfile.TemporaryDirectory() as tmp:
        return _load_keras_file(download_model(client, run_id, Path(tmp)), f"The saved model of run {run_id}")


def _load_keras_file(path: Path, what: str):
    """A `.keras` file loaded with safe_mode=True; InputError "<what> can't be loaded safely ..."."""
    import keras

    import cnnkit.models.filters, cnnkit.models.schedules  # noqa: F401  (register cnnkit's layers and schedules for loading)

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception:  # Keras' refusals and a damaged file's errors come in many types and may quote the file
        _log.warning("%s could not be loaded", what, exc_info=True)
        raise InputError(f"{what} can't be loaded safely: it holds code (such as a Lambda layer) or parts cnnkit "
                         "doesn't know, or the file is damaged.") from None


# ---- snapshots: a run's model and test probabilities every few epochs (setting snapshot_every) ----------


def snapshot_epochs(client: MlflowClient, run_id: str) -> list[int]:
    """The epochs run `run_id` kept a snapshot of, in order; empty for a run without snapshots."""
    try:
        files = client.list_artifacts(run_id, SNAPSHOT_FOLDER)
    except (MlflowException, OSError):
        return []
    return sorted(epoch for epoch in map(snapshot_epoch, (file.path for file in files)) if epoch is not None)


def lineages(client: MlflowClient, run_ids: list[str]) -> dict[str, Lineage]:
    """run id -> where it was forked from, for the forks among these runs (one search)."""
    found = {run.info.run_id: lineage_of(run.data.tags) for run in _runs(client, run_ids)}
    return {run_id: lineage for run_id, lineage in found.items() if lineage is not None}


def snapshot_name(run_id: str, epoch: int) -> str:
    """How messages name run `run_id`'s snapshot after `epoch`."""
    return f"The snapshot of run {run_id} at epoch {epoch}"


def _download_snapshot_file(client: MlflowClient, run_id: str, epoch: int, artifact_file: str, folder: Path) -> Path:
    return _download_checked(client, run_id, artifact_file, folder, f"Run {run_id} has no snapshot after epoch {epoch}.",
                             f"{snapshot_name(run_id, epoch)} does not match the checksum recorded when it was saved")


def download_snapshot(client: MlflowClient, run_id: str, epoch: int, folder: Path) -> Path:
    """The `.keras` file of run `run_id` after `epoch` (optimizer state included), downloaded into `folder`
    and checked against the SHA-256 recorded when it was saved (runs logged before that have none)."""
    return _download_snapshot_file(client, run_id, epoch, snapshot_model_file(epoch), folder)


def snapshot_probabilities(client: MlflowClient, run_id: str, epoch: int) -> np.ndarray:
    """The run's test-image probabilities after `epoch`, (images, classes) float32, in test order,
    checked like the snapshot's model."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _download_snapshot_file(client, run_id, epoch, snapshot_probabilities_file(epoch), Path(tmp))
        with np.load(path, allow_pickle=False) as arrays:
            return arrays["probabilities"].astype(np.float32)


def load_snapshot_model(client: MlflowClient, run_id: str, epoch: int):
    """The run's model as it was after `epoch`, checked (see `download_snapshot`), loaded with safe_mode=True."""
    with tempfile.TemporaryDirectory() as tmp:
        return _load_keras_file(download_snapshot(client, run_id, epoch, Path(tmp)), snapshot_name(run_id, epoch))


def download_model(client: MlflowClient, run_id: str, folder: Path) -> Path:
    """The run's `.keras` file, downloaded into `folder` and checked against the SHA-256 recorded when
    it was logged (runs logged before that have none). InputError when it is missing or was changed."""
    return _download_checked(client, run_id, MODEL_ARTIFACT, folder, f"Run {run_id} has no saved model.",
                             f"The saved model of run {run_id} does not match the checksum recorded when it was trained")


def _download_checked(client: MlflowClient, run_id: str, artifact_file: str, folder: Path, missing: str,
                      changed: str) -> Path:
    """`artifact_file` of the run, downloaded into `folder` and checked against the SHA-256 its tag
    (`sha256_tag`) recorded when it was logged; files logged before checksums have none and pass.
    InputError `missing` when it isn't there, "`changed`: it was changed after training." when it differs."""
    try:
        path = Path(client.download_artifacts(run_id, artifact_file, str(folder)))
    except Exception:  # MLflow raises several types for a missing artifact
        raise InputError(missing) from None
    recorded = _runs(client, [run_id])[0].data.tags.get(sha256_tag(artifact_file))
    if recorded and file_sha256(path) != recorded:
        raise InputError(f"{changed}: it was changed after training.")
    return path


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex (read a block at a time)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- stale runs ------------------------------------------------------------------------


def kill_stale_runs(client: MlflowClient, stale_after_s: float | None = None) -> list[str]:
    """End as KILLED the RUNNING runs whose worker is gone, and return their ids.

    Looks through every active experiment, since `train` can log to any of them. A run is stale
    when its heartbeat (tag `cnnkit.heartbeat`, see `heartbeat`) is older than `stale_after_s`
    (default: `heartbeat.stale_after_seconds()`), whichever machine trained it, or at once when
    it was trained on this machine by a process that is gone (`worker_process`). Runs without a
    heartbeat (other tools, older cnnkit) are left alone.
    """
    limit = stale_after_seconds() if stale_after_s is None else stale_after_s
    experiments = _paged(lambda size, token: client.search_experiments(max_results=size, page_token=token))
    experiment_ids = [experiment.experiment_id for experiment in experiments]
    killed = []
    for run in _search_runs(client, experiment_ids, "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        age = heartbeat_age(tags)
        if age is None:
            continue
        if age > limit:
            why = f"no heartbeat for {age:.0f} s"
        elif worker_process.gone_from_tags(tags):
            why = f"its process {tags[PID_TAG]} on {tags[HOST_TAG]} is gone"
        else:
            continue
        RunLogger(client, run.info.run_id).finish("KILLED", f"The worker training this run stopped before it finished: {why}.")
        killed.append(run.info.run_id)
    return killed


# ---- uploaded data, for workers elsewhere ------------------------------------------------


@dataclass(frozen=True)
class RunState:
    status: str
    tags: dict[str, str]
    metrics: dict[str, float]  # each metric's latest value


def run_state(client: MlflowClient, run_id: str) -> RunState:
    """The run's status, tags and latest metrics, in one request: what a runner watching a worker elsewhere reads."""
    run = Patience().call(lambda: client.get_run(run_id))
    return RunState(run.info.status, run.data.tags, run.data.metrics)


def epoch_history(client: MlflowClient, run_id: str) -> pd.DataFrame:
    """The run's per-epoch metrics: column `epoch` plus those of `EPOCH_METRICS` it logged."""
    return _history_frame(client, run_id, EPOCH_METRICS, "epoch")


def end_scheduled_run(client: MlflowClient, run_id: str, status: str, note: str) -> bool:
    """End the run as `status` with `note` if no worker has taken it yet (still SCHEDULED); whether it did."""
    if run_status(client, run_id) != "SCHEDULED":
        return False
    RunLogger(client, run_id).finish(status, note)
    return True


def log_uploaded_dataset(client: MlflowClient, run_id: str, path: Path) -> None:
    """Keep the run's uploaded CSV or zip with it (and the name it was uploaded under, for messages),
    where a worker on another machine can fetch it."""
    Patience().call(lambda: client.log_artifact(run_id, str(path), UPLOADED_DATASET_FOLDER))
    if name_file(path).is_file():
        Patience().call(lambda: client.log_artifact(run_id, str(name_file(path)), UPLOADED_DATASET_FOLDER))


def fetch_uploaded_dataset(client: MlflowClient, run_id: str, name: str, folder: Path) -> Path | None:
    """The run's uploaded file `name`, downloaded into `folder`; None when the run holds none."""
    try:
        return Path(client.download_artifacts(run_id, f"{UPLOADED_DATASET_FOLDER}/{name}", str(folder)))
    except (MlflowException, OSError):
        return None


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
    return _frame_of_runs(runs)


def _frame_of_runs(runs: list[Run]) -> pd.DataFrame:
    """The runs as rows with the columns in `RUN_COLUMNS`, in the given order."""
    now_ms = time.time() * 1000
    rows = []
    for run in runs:
        info, params, metrics = run.info, run.data.params, run.data.metrics
        rows.append((
            info.run_id, info.run_name, info.status, params.get("dataset", ""), params.get("arch", ""),
            describe_tricks(params), metrics.get(TEST_ACCURACY, math.nan), metrics.get(VAL_ACCURACY, math.nan),
            params.get("epochs"), _duration_s(info, now_ms), info.start_time, _user_tags(run.data.tags),
        ))
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    frame["epochs"] = pd.to_numeric(frame["epochs"], errors="coerce").astype("Int64")
    frame["start_time"] = pd.to_datetime(frame["start_time"], unit="ms", utc=True)
    return frame


def _duration_s(info: RunInfo, now_ms: float) -> float:
    """Seconds from the run's start to its end, or to now while it is RUNNING; nan without times."""
    end_ms = now_ms if info.status == "RUNNING" else info.end_time
    return (end_ms - info.start_time) / 1000 if end_ms and info.start_time else math.nan


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


@dataclass(frozen=True)
class RunsPage:
    """One page of the runs table, filtered and paged by the store: `runs` (columns in
    `RUN_COLUMNS`, newest first), `next_token` for the page after it (None on the last page),
    and whether runs follow. The total is not counted: that would read every matching run."""

    runs: pd.DataFrame
    next_token: str | None
    more: bool


def runs_page(client: MlflowClient, filter_string: str = "", page_size: int = 50, page_token: str | None = None,
              experiment: str = DEFAULT_EXPERIMENT) -> RunsPage:
    """The `page_size` newest runs of `experiment` that match MLflow's `filter_string` (see
    `run_search`), from `page_token` on; deleted runs left out. InputError for a filter MLflow
    refuses."""
    found = client.get_experiment_by_name(experiment)
    if found is None or found.lifecycle_stage == "deleted":
        return RunsPage(pd.DataFrame(columns=list(RUN_COLUMNS)), None, False)

    def search(size: int, token: str | None):
        try:
            with _gc_paused():
                return client.search_runs([found.experiment_id], filter_string, ViewType.ACTIVE_ONLY, size,
                                          ["attributes.start_time DESC"], token)
        except MlflowException as error:
            if error.error_code != "INVALID_PARAMETER_VALUE":
                raise
            raise InputError(f"The store can't filter the runs this way: {one_line(error)}") from None

    page = search(page_size, page_token)
    more = bool(page.token) and bool(search(1, page.token))  # a full last page still gets a token
    return RunsPage(_frame_of_runs(page), page.token if more else None, more)


def runs_by_id(client: MlflowClient, run_ids: list[str], experiment: str = DEFAULT_EXPERIMENT) -> pd.DataFrame:
    """The runs of `experiment` among `run_ids` that are still there (not deleted), as in
    `runs_frame`, newest first, in one search."""
    found = client.get_experiment_by_name(experiment)
    wanted = [run_id for run_id in dict.fromkeys(run_ids) if run_id.isalnum()]
    if found is None or found.lifecycle_stage == "deleted" or not wanted:
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    with _gc_paused():
        return _frame_of_runs(_search_runs(client, [found.experiment_id], _one_of_ids(wanted)))


def _one_of_ids(run_ids: list[str]) -> str:
    """A filter string keeping the runs with these ids (alphanumeric, as MLflow's are: nothing to quote)."""
    return "attributes.run_id IN ({})".format(", ".join(f"'{run_id}'" for run_id in run_ids))


# ---- one run's curves ------------------------------------------------------------------


def run_history(client: MlflowClient, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's per-epoch metrics (column `epoch` plus those of `EPOCH_METRICS` it logged) and
    per-batch curves (`step`, `batch_loss`, `batch_lr`). `batch_lr` is logged only when the
    rate changes, so it is carried forward to every batch."""
    return _history_frame(client, run_id, EPOCH_METRICS, "epoch"), _batch_frame(client, run_id)


def _batch_frame(client: MlflowClient, run_id: str) -> pd.DataFrame:
    batches = _history_frame(client, run_id, BATCH_METRICS, "step").reindex(columns=["step", *BATCH_METRICS])
    batches[BATCH_LR] = batches[BATCH_LR].ffill()
    return batches.dropna(subset=[BATCH_LOSS]).reset_index(drop=True)


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


# MLflow's own rule for tag names (mlflow.utils.validation), checked first so the message names the field.
_TAG_KEY = re.compile(r"[/\w.\- :]+")
_MAX_TAG_KEY_LENGTH = 250


def _user_tag_key(key: str) -> str:
    key = key.strip()
    if not key:
        raise InputError("A tag needs a name.")
    if key.startswith(RESERVED_TAG_PREFIXES):
        raise InputError(
            f"Tag '{key}' is reserved: names starting with {', '.join(RESERVED_TAG_PREFIXES)} are written by "
            "MLflow and cnnkit. Choose another name."
        )
    path = posixpath.normpath(key)  # MLflow may keep tags as files: a name must be its own path
    if (len(key) > _MAX_TAG_KEY_LENGTH or not _TAG_KEY.fullmatch(key) or path != key or path == "."
            or path.startswith(("..", "/"))):
        raise InputError(f"Tag '{key}' can't be a tag's name: use at most {_MAX_TAG_KEY_LENGTH} letters, digits, "
                         "spaces and _ - . : /, not starting with '..' or '/', with no '..' or '//' part and no '/' "
                         "at the end.")
    return key


@contextlib.contextmanager
def _as_input_error():
    """MLflow's complaints a person can act on (a bad tag name, a run or tag that is gone)
    as InputError, and a tracking server's refusal to let this user change a run; anything else
    (the store is down) passes through."""
    try:
        yield
    except MlflowException as error:
        if error.error_code == "PERMISSION_DENIED":
            user = login()
            raise InputError(f"User {user[0] if user else '(none)'} may only read this run: changing it needs EDIT "
                             "permission on its experiment, which the tracking server's admin can grant.") from None
        if error.error_code not in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            raise
        raise InputError(error.message) from None


# ---- the model registry (Classify page) --------------------------------------------------


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a model in MLflow's Model Registry, and the run that trained it."""

    name: str
    version: int
    run_id: str
    created: pd.Timestamp


def register_model(client: MlflowClient, run_id: str, name: str) -> RegisteredVersion:
    """Register a finished run's model under `name` (created on first use; a new version after that)."""
    name = name.strip()
    if not name:
        raise InputError("A registered model needs a name.")
    with _as_input_error():
        run = client.get_run(run_id)
    if run.info.status != "FINISHED":
        raise InputError(f"Run '{run.info.run_name}' is {run.info.status}: only a finished run's model can be registered.")
    saved = {artifact.path for artifact in client.list_artifacts(run_id, str(Path(MODEL_ARTIFACT).parent))}
    if MODEL_ARTIFACT not in saved:
        raise InputError(f"Run '{run.info.run_name}' has no saved model to register.")
    with _as_input_error():
        try:
            client.create_registered_model(name, description="A cnnkit run's Keras model (model.keras).")
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = client.create_model_version(name, source=f"{run.info.artifact_uri}/model", run_id=run_id)
    return _registered(version)


def registered_models(client: MlflowClient, run_id: str | None = None) -> list[RegisteredVersion]:
    """Every registered version trained by a run (of `run_id` only, when given): names in
    alphabetical order, newest version first."""
    filter_string = f"run_id = '{run_id}'" if run_id else ""
    versions = _paged(lambda count, token: client.search_model_versions(filter_string, max_results=count,
                                                                         page_token=token))
    return sorted((_registered(version) for version in versions if version.run_id),
                  key=lambda version: (version.name.lower(), -version.version))


def _registered(version) -> RegisteredVersion:
    return RegisteredVersion(version.name, int(version.version), version.run_id,
                             pd.Timestamp(version.creation_timestamp, unit="ms"))


# ---- comparing runs and reading their evaluations (Compare and Inspect pages) ----------

RESULT_COLUMNS = ("run_id", "run", "status", *RESULT_METRICS, "epochs", "wall_s")


def results_table(client: MlflowClient, run_ids: list[str]) -> pd.DataFrame:
    """One row per run, in the given order (an id given twice counts once), with the columns
    in `RESULT_COLUMNS`. `run` is the run's name, with a short id suffix where names clash;
    `epochs` the epochs it trained (fewer than set after early stopping); `wall_s` its wall
    time, so far while it is RUNNING. Metrics a run never logged are nan."""
    runs = _runs(client, run_ids)
    now_ms = time.time() * 1000
    rows = [
        (run.info.run_id, name, run.info.status, *(run.data.metrics.get(key, math.nan) for key in RESULT_METRICS),
         run.data.metrics.get(EPOCHS_TRAINED, run.data.params.get("epochs")), _duration_s(run.info, now_ms))
        for run, name in zip(runs, _display_names(runs))
    ]
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    frame["epochs"] = pd.to_numeric(frame["epochs"], errors="coerce").astype("Int64")
    return frame


def params_diff(client: MlflowClient, run_ids: list[str]) -> pd.DataFrame:
    """The settings that differ between the runs (see `differing_params`), one column per
    run named as in `results_table`."""
    runs = _runs(client, run_ids)
    return differing_params({name: run.data.params for run, name in zip(runs, _display_names(runs))})


def differing_params(params_by_run: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Settings whose values are not the same in every run: index `setting` (TrainConfig's
    fields in their order, then any other params alphabetically), one column per run, ""
    where a run lacks the setting. Empty when all runs agree."""
    order = {name: position for position, name in enumerate(field_names())}
    keys = sorted({key for params in params_by_run.values() for key in params},
                  key=lambda key: (order.get(key, len(order)), key))
    frame = pd.DataFrame({run: [params.get(key, "") for key in keys] for run, params in params_by_run.items()},
                         index=pd.Index(keys, name="setting"), dtype=object)
    return frame[frame.nunique(axis=1) > 1]


def histories(client: MlflowClient, run_ids: list[str], keys: tuple[str, ...] = EPOCH_CURVES,
              batch: bool = False) -> pd.DataFrame:
    """The runs' curves in long form, to overlay: columns run_id, run (as in `results_table`),
    then `epoch` and one column per key, or with `batch` `step`, batch_loss and batch_lr
    (`keys` is then unused; batch_lr is carried forward as in `run_history`). A key a run
    never logged is nan."""
    step, keys = ("step", BATCH_METRICS) if batch else ("epoch", tuple(keys))
    runs = _runs(client, run_ids)
    frames = []
    for run, name in zip(runs, _display_names(runs)):
        run_id = run.info.run_id
        curves = _batch_frame(client, run_id) if batch else _history_frame(client, run_id, keys, step)
        if len(curves):
            frames.append(curves.reindex(columns=[step, *keys]).assign(run_id=run_id, run=name))
    columns = ["run_id", "run", step, *keys]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


@dataclass(frozen=True, eq=False)
class RunEvaluation:
    """A finished run's test-set evaluation, as `train` logged it."""

    class_names: list[str]
    confusion: np.ndarray  # (true, predicted) counts, int64
    per_class: pd.DataFrame  # class, precision, recall, f1, support
    mistakes: pd.DataFrame  # index (into the test set), true, predicted, confidence, probabilities (float arrays)
    mistake_images: dict[int, np.ndarray]  # test index -> uint8 image (H, W, C), for the most confident mistakes


def evaluation_of_run(client: MlflowClient, run_id: str) -> RunEvaluation:
    """A run's evaluation from its `evaluation/` artifacts, fetched in one download."""
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.suppress(MlflowException, OSError):  # no such folder: treated below like missing files
            client.download_artifacts(run_id, EVALUATION_FOLDER, tmp)
        folder = Path(tmp)
        missing = [Path(name).name for name in EVALUATION_FILES if not (folder / name).is_file()]
        if missing:
            raise InputError(
                f"Run {run_id} has no evaluation (missing {', '.join(missing)}): runs are evaluated when training "
                "ends, and FAILED or KILLED runs stop before that."
            )
        confusion = json.loads((folder / CONFUSION_MATRIX).read_text())
        with np.load(folder / MISTAKE_IMAGES, allow_pickle=False) as arrays:
            images = dict(zip(arrays["index"].tolist(), arrays["images"]))
        return RunEvaluation(
            class_names=list(confusion["class_names"]),
            confusion=np.asarray(confusion["matrix"], dtype=np.int64),
            per_class=pd.read_csv(folder / PER_CLASS, dtype={"class": str}, keep_default_na=False),
            mistakes=_read_mistakes(folder / MISTAKES),
            mistake_images=images,
        )


def _read_mistakes(path: Path) -> pd.DataFrame:
    """mistakes.csv with each row's `probabilities` (written as "[p0, p1, ...]") back as a
    float array. All rows are parsed in one pass of pandas' C parser, ~5x faster than
    json.loads per row (6,000 mistakes x 100 classes), and nan or inf from a diverged model,
    which are not JSON, read fine."""
    table = pd.read_csv(path)
    if len(table):
        rows = "\n".join(text.strip("[]") for text in table["probabilities"])
        table["probabilities"] = list(pd.read_csv(io.StringIO(rows), header=None, dtype="float64").to_numpy())
    return table


def test_split_of_run(client: MlflowClient, run_id: str) -> Dataset:
    """The run's data loaded again as the run split it (so `x_test[i]` is the image of test
    index i in its evaluation), after checking it against the run's data fingerprint."""
    run = _runs(client, [run_id])[0]
    expected = run.data.tags.get(DATA_FINGERPRINT_TAG)
    if not expected:
        raise InputError(f"Run {run_id} never loaded its data (it stopped before), so it has no test set to show.")
    try:
        data = load_data(TrainConfig.from_params(run.data.params))
    except (InputError, OSError) as error:
        raise InputError(f"The data this run saw is not available any more: {error}") from None
    if data.fingerprint() != expected:
        raise InputError(
            f"The data this run saw is not available any more: '{data.name}' now loads different images or labels "
            "than the run trained and was tested on."
        )
    return data


test_split_of_run.__test__ = False  # not a pytest test, despite its name


def test_fingerprints(client: MlflowClient, run_ids: list[str]) -> dict[str, str | None]:
    """run id -> fingerprint of the images the run was tested on, in order: equal fingerprints mean
    the same test images in the same order, so mistakes line up by test index. Test-split
    fingerprints, or, when one of these runs was logged before those existed, fingerprints of the
    whole split for all of them. None for a run that never loaded data."""
    runs = _runs(client, run_ids)
    key = TEST_FINGERPRINT_TAG if all(TEST_FINGERPRINT_TAG in run.data.tags for run in runs) else DATA_FINGERPRINT_TAG
    return {run.info.run_id: run.data.tags.get(key) for run in runs}


def _runs(client: MlflowClient, run_ids: list[str]) -> list[Run]:
    """The runs with these ids, each once, in the given order; InputError (MLflow's "not found")
    for one that is not in the store. Several runs come in one search: a `get_run` each costs
    about as much as a search for 20 (Compare of 20 runs read them three times)."""
    wanted = list(dict.fromkeys(run_ids))
    found = {}
    if len(wanted) > 1 and all(run_id.isalnum() for run_id in wanted):
        experiments = _paged(lambda size, token: client.search_experiments(ViewType.ALL, size, page_token=token))
        found = {run.info.run_id: run for run in _paged(lambda size, token: client.search_runs(
            [experiment.experiment_id for experiment in experiments], _one_of_ids(wanted), ViewType.ALL, size,
            page_token=token))}
    with _as_input_error():
        return [found.get(run_id) or client.get_run(run_id) for run_id in wanted]


def _display_names(runs: list[Run]) -> list[str]:
    """Run names for tables and legends: a name several runs share gets the run id's first
    8 characters in brackets; a run without a name is shown by that short id."""
    names = [run.info.run_name or run.info.run_id[:8] for run in runs]
    return [
        f"{name} ({run.info.run_id[:8]})" if names.count(name) > 1 else name
        for run, name in zip(runs, names)
    ]


# ---- ablation studies (cnnkit.experiments.ablations) ---------------------------------------------------

STUDY_RUN_COLUMNS = ("run_id", "run", "status", "cell", "seed", *RESULT_METRICS)
STUDY_COLUMNS = ("study_id", "study", "size", "runs", "started")


def study_runs(client: MlflowClient, study_id: str, experiment: str = DEFAULT_EXPERIMENT) -> pd.DataFrame:
    """The runs of one study, oldest first, with the columns in `STUDY_RUN_COLUMNS`: `cell` the
    factor levels as a dict (name -> level label), `seed` the run's seed, metrics nan until logged."""
    found = client.get_experiment_by_name(experiment)
    if found is None or not study_id.isalnum():
        return pd.DataFrame(columns=list(STUDY_RUN_COLUMNS))
    with _gc_paused():
        runs = _search_runs(client, [found.experiment_id], f"tags.\"{STUDY_ID_TAG}\" = '{study_id}'")[::-1]
    rows = [(run.info.run_id, name, run.info.status, json.loads(run.data.tags.get(STUDY_CELL_TAG, "{}")),
             int(run.data.tags.get(STUDY_SEED_TAG, run.data.params.get("seed", 0))),
             *(run.data.metrics.get(key, math.nan) for key in RESULT_METRICS))
            for run, name in zip(runs, _display_names(runs))]
    return pd.DataFrame(rows, columns=list(STUDY_RUN_COLUMNS))


def studies(client: MlflowClient, experiment: str = DEFAULT_EXPERIMENT, max_runs: int = 5000) -> pd.DataFrame:
    """The studies in the store, newest first, with the columns in `STUDY_COLUMNS`: `size` the runs
    planned, `runs` those in the store, `started` its first run's start."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return pd.DataFrame(columns=list(STUDY_COLUMNS))
    with _gc_paused():
        runs = _search_runs(client, [found.experiment_id], f"tags.\"{STUDY_ID_TAG}\" LIKE '%'", max_runs)
    rows: dict[str, list] = {}
    for run in runs[::-1]:
        tags = run.data.tags
        row = rows.setdefault(tags[STUDY_ID_TAG], [tags[STUDY_ID_TAG], tags.get(STUDY_NAME_TAG, ""),
                                                   int(tags.get(STUDY_SIZE_TAG, 0)), 0, run.info.start_time])
        row[3] += 1
    frame = pd.DataFrame(list(rows.values())[::-1], columns=list(STUDY_COLUMNS))
    frame["started"] = pd.to_datetime(frame["started"], unit="ms", utc=True)
    return frame


# ---- one store object for the app's pages ------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """One run as a page shows it."""

    run_id: str
    name: str
    status: str  # RUNNING, FINISHED, FAILED or KILLED
    params: dict[str, str]
    metrics: dict[str, float]  # each metric's latest value
    tags: dict[str, str]
    started: datetime | None = None  # UTC; None when the store has no start time


class RunStore:
    """Every read and write of runs that the app's pages make, on one tracking store: a facade over
    `MlflowClient` (as MLflow's client is one over its tracking and registry services), so pages
    never hold a client nor see MLflow's objects. Each method is the module function of the same
    name on this store's client; StoreError on creation when the store can't be used."""

    def __init__(self, tracking_uri: str | None = None):
        self.tracking_uri = tracking_uri or default_tracking_uri()
        self._client = make_client(self.tracking_uri)

    def describe(self) -> str:
        """Where runs go and who is logged in, never a password (see `describe_store`)."""
        return describe_store(self.tracking_uri)

    def check_can_launch(self, experiment: str = DEFAULT_EXPERIMENT) -> None:
        check_can_launch(self._client, experiment)

    def run(self, run_id: str) -> RunSummary:
        """InputError for a run that is not in the store."""
        found = _runs(self._client, [run_id])[0]
        started = found.info.start_time
        return RunSummary(run_id, found.info.run_name, found.info.status, dict(found.data.params),
                          dict(found.data.metrics), dict(found.data.tags),
                          datetime.fromtimestamp(started / 1000, timezone.utc) if started else None)

    def runs_frame(self, experiment: str = DEFAULT_EXPERIMENT) -> pd.DataFrame:
        return runs_frame(self._client, experiment)

    def runs_page(self, filter_string: str = "", page_size: int = 50, page_token: str | None = None) -> RunsPage:
        return runs_page(self._client, filter_string, page_size, page_token)

    def runs_by_id(self, run_ids: list[str]) -> pd.DataFrame:
        return runs_by_id(self._client, run_ids)

    def run_history(self, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        return run_history(self._client, run_id)

    def config_of_run(self, run_id: str) -> TrainConfig:
        return config_of_run(self._client, run_id)

    def rename_run(self, run_id: str, name: str) -> None:
        rename_run(self._client, run_id, name)

    def set_run_tag(self, run_id: str, key: str, value: str = "") -> None:
        set_run_tag(self._client, run_id, key, value)

    def delete_run_tag(self, run_id: str, key: str) -> None:
        delete_run_tag(self._client, run_id, key)

    def delete_run(self, run_id: str) -> None:
        delete_run(self._client, run_id)

    def register_model(self, run_id: str, name: str) -> RegisteredVersion:
        return register_model(self._client, run_id, name)

    def registered_models(self, run_id: str | None = None) -> list[RegisteredVersion]:
        return registered_models(self._client, run_id)

    def results_table(self, run_ids: list[str]) -> pd.DataFrame:
        return results_table(self._client, run_ids)

    def params_diff(self, run_ids: list[str]) -> pd.DataFrame:
        return params_diff(self._client, run_ids)

    def histories(self, run_ids: list[str], keys: tuple[str, ...] = EPOCH_CURVES, batch: bool = False) -> pd.DataFrame:
        return histories(self._client, run_ids, keys, batch)

    def evaluation_of_run(self, run_id: str) -> RunEvaluation:
        return evaluation_of_run(self._client, run_id)

    def test_split_of_run(self, run_id: str) -> Dataset:
        return test_split_of_run(self._client, run_id)

    def test_fingerprints(self, run_ids: list[str]) -> dict[str, str | None]:
        return test_fingerprints(self._client, run_ids)

    def load_model(self, run_id: str):
        return load_model(self._client, run_id)

    def download_model(self, run_id: str, folder: Path) -> Path:
        return download_model(self._client, run_id, folder)

    def dataset_summary(self, run_id: str) -> dict[str, Any]:
        return dataset_summary(self._client, run_id)

    def study_runs(self, study_id: str) -> pd.DataFrame:
        return study_runs(self._client, study_id)

    def studies(self) -> pd.DataFrame:
        return studies(self._client)

    def snapshot_epochs(self, run_id: str) -> list[int]:
        return snapshot_epochs(self._client, run_id)

    def snapshot_probabilities(self, run_id: str, epoch: int) -> np.ndarray:
        return snapshot_probabilities(self._client, run_id, epoch)

    def load_snapshot_model(self, run_id: str, epoch: int):
        return load_snapshot_model(self._client, run_id, epoch)

    def lineages(self, run_ids: list[str]) -> dict[str, Lineage]:
        return lineages(self._client, run_ids)

"""Opening the tracking store: a client on it, once the store is checked (a SQLite file that is a
whole MLflow store, created under a file lock when new; a server that answers as MLflow and takes
the login). The client this makes stays inside cnnkit.tracking: everything else reaches the store
through `RunStore`."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from cnnkit.errors import InputError, one_line
from cnnkit.tracking.store_address import default_tracking_uri, login, shown_uri

STORE_LOCK_SECONDS = 300.0  # how long a process waits for another one setting up the same new store
STORE_REACH_SECONDS = 5.0  # how long the first request to an http(s) store may take
_SQLITE_MAGIC = b"SQLite format 3\x00"
MOVE_AWAY = "Move it away to start a new store, or point MLFLOW_TRACKING_URI at another one."


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
        raise StoreError(f"The tracking store {shown_uri(uri)} can't be used: {one_line(error)}") from None


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
            raise StoreError(f"The tracking store {shown_uri(uri)} is not a kind of store MLflow knows: use sqlite:///path/to/"
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
        raise StoreError(f"The tracking store {uri} is an empty file (0 bytes), not an MLflow store. {MOVE_AWAY}")
    with path.open("rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise StoreError(f"The tracking store {uri} is damaged: the file is not an SQLite database. {MOVE_AWAY}")
    page_size = int.from_bytes(header[16:18], "big")
    pages = int.from_bytes(header[28:32], "big")
    if path.stat().st_size < (65536 if page_size == 1 else page_size) * pages and not _sqlite_intact(path):
        raise StoreError(f"The tracking store {uri} is damaged: the database file is cut short. {MOVE_AWAY}")
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
            raise StoreError(f"The tracking store {uri} is damaged: {one_line(error)}. {MOVE_AWAY}") from None
        if shutil.disk_usage(path.parent).free < _NEARLY_FULL_BYTES:  # SQLite can't make its files beside it
            raise StoreError(f"The tracking store {uri} can't be opened: no space left on device in {path.parent}. "
                             "Free some disk space, then try again.") from None
        raise StoreError(f"The tracking store {uri} can't be read: {one_line(error)}.") from None
    if not tables.intersection(_MLFLOW_CORE_TABLES):
        held = f"its tables: {', '.join(sorted(tables))}" if tables else "it holds no tables"
        raise StoreError(f"The tracking store {uri} is an SQLite database but not an MLflow store ({held}). "
                         f"{MOVE_AWAY}")
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
        raise StoreError(f"The tracking store {shown_uri(uri)} can't be reached: no answer within "
                         f"{STORE_REACH_SECONDS:g} s. Is the MLflow server running, and is the address right?") from None
    if answer.status_code == 401:
        raise StoreError(login_refused(uri))
    if answer.status_code not in (200, 403):
        raise StoreError(f"The tracking store {shown_uri(uri)} answered HTTP {answer.status_code} where "
                         "MLflow's API should be: is it an MLflow tracking server?")


def login_refused(uri: str) -> str:
    user = login()
    if user is None:
        return (f"The tracking server {shown_uri(uri)} needs a login: set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD.")
    return (f"The tracking server {shown_uri(uri)} refused the login of user {user[0]}: wrong user name or password "
            "(MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD).")

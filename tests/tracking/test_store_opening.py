"""Opening the tracking store (cnnkit.tracking.store_opening): new stores made once however many
processes start on them, damaged files, bad URIs and servers that don't answer refused in one
line, each left as it was."""

import http.server
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cnnkit import tracking
from cnnkit.tracking import store_opening
from cnnkit.tracking.store_opening import make_client
from alerts import alert_text
from cnnkit.config import TrainConfig


ROOT = Path(__file__).resolve().parents[2]
GARBAGE = bytes(range(256)) * 400  # 100 kB that is no database


def one_line_naming(message: str, uri: str) -> bool:
    return "\n" not in message and uri in message and "Traceback" not in message


# ---- new stores ------------------------------------------------------------------------

RACER = """
import sys
from cnnkit.tracking.store_opening import make_client

client = make_client(sys.argv[1])
client.create_experiment(sys.argv[2])
"""


@pytest.mark.slow
def test_four_processes_starting_on_a_new_store_all_succeed_and_it_is_in_wal_mode(tmp_path):
    path = tmp_path / "new" / "mlflow.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [subprocess.Popen([sys.executable, "-c", RACER, f"sqlite:///{path}", f"racer {n}"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for n in range(4)]
    outputs = [racer.communicate(timeout=600)[0] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0, 0], outputs
    names = {experiment.name for experiment in MlflowClient(f"sqlite:///{path}").search_experiments()}
    assert names == {"Default", "racer 0", "racer 1", "racer 2", "racer 3"}
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        stray = connection.execute("SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp%'").fetchall()
    assert stray == []


# ---- damaged stores and bad URIs ---------------------------------------------------------


def test_a_file_that_is_no_database_is_refused_in_one_line_and_left_as_it_was(tmp_path):
    path = tmp_path / "mlflow.db"
    path.write_bytes(GARBAGE)
    uri = f"sqlite:///{path}"
    with pytest.raises(tracking.StoreError) as raised:
        make_client(uri)
    assert str(raised.value) == (f"The tracking store {uri} is damaged: the file is not an SQLite database. Move it "
                                 "away to start a new store, or point MLFLOW_TRACKING_URI at another one.")
    assert path.read_bytes() == GARBAGE


def test_a_truncated_store_is_refused_in_one_line_and_left_as_it_was(store):
    path = Path(store.removeprefix("sqlite:///"))
    cut = path.read_bytes()[: path.stat().st_size // 3]
    path.write_bytes(cut)
    with pytest.raises(tracking.StoreError, match="is damaged: the database file is cut short") as raised:
        make_client(store)
    assert one_line_naming(str(raised.value), store)
    assert path.read_bytes() == cut


def test_a_relative_sqlite_uri_is_checked_again_from_another_folder(tmp_path, empty_store, monkeypatch):
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    shutil.copy(empty_store, tmp_path / "good" / "mlflow.db")
    (tmp_path / "bad" / "mlflow.db").write_bytes(GARBAGE)
    monkeypatch.chdir(tmp_path / "good")
    make_client("sqlite:///mlflow.db")
    monkeypatch.chdir(tmp_path / "bad")
    with pytest.raises(tracking.StoreError, match="is damaged: the file is not an SQLite database"):
        make_client("sqlite:///mlflow.db")


def test_an_unknown_kind_of_uri_is_refused_in_one_line():
    with pytest.raises(tracking.StoreError) as raised:
        make_client("nosuch://store")
    assert str(raised.value) == ("The tracking store nosuch://store is not a kind of store MLflow knows: use "
                                 "sqlite:///path/to/mlflow.db, http(s)://server:port or a database URI such as "
                                 "postgresql://...")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_is_not_running_is_reported_without_mlflows_retries():
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(tracking.StoreError) as raised:
        make_client(uri)
    assert str(raised.value) == (f"The tracking store {uri} can't be reached: no answer within 5 s. Is the MLflow "
                                 "server running, and is the address right?")


def test_a_server_that_never_answers_is_given_up_on(monkeypatch):
    monkeypatch.setattr(store_opening, "STORE_REACH_SECONDS", 0.5)
    with socket.socket() as silent:  # accepts connections (the backlog does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(tracking.StoreError, match="can't be reached: no answer within 0.5 s"):
            make_client(uri)


def test_a_server_that_is_not_mlflow_is_named_with_its_answer():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)  # 501 to all
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(tracking.StoreError) as raised:
            make_client(uri)
    finally:
        server.shutdown()
    assert str(raised.value) == (f"The tracking store {uri} answered HTTP 501 where MLflow's API should be: is it an "
                                 "MLflow tracking server?")


@pytest.mark.slow
@pytest.mark.parametrize("command", [["list", "models"], ["train", "--dataset", "digits", "--epochs", "1"]])
def test_the_cli_says_in_one_line_that_the_store_is_damaged(tmp_path, command):
    path = tmp_path / "mlflow.db"
    path.write_bytes(GARBAGE)
    uri = f"sqlite:///{path}"
    done = subprocess.run([sys.executable, "-m", "cnnkit", *command, "--tracking-uri", uri], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == f"error: The tracking store {uri} is damaged: the file is not an " \
                                                    "SQLite database. Move it away to start a new store, or point " \
                                                    "MLFLOW_TRACKING_URI at another one."
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == GARBAGE


@pytest.mark.slow
def test_the_app_opens_on_a_damaged_store_and_says_so_pages_without_the_store_still_work(app, tmp_path, monkeypatch):
    path = tmp_path / "damaged.db"
    path.write_bytes(GARBAGE)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    at = app.run()  # the Train page needs the store
    assert not at.exception
    expected = f"The tracking store {uri} is damaged: the file is not an SQLite database."
    assert any(alert_text(error).startswith(expected) for error in at.error)
    assert any(alert_text(error).startswith(expected) for error in at.sidebar.error)
    at.switch_page("app_pages/kernels.py").run()  # the Kernels page doesn't
    assert not at.exception
    assert [alert_text(error) for error in at.main.error] == []
    assert at.main.get("selectbox") or at.main.get("radio")
    assert path.read_bytes() == GARBAGE
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")  # for the fixture's shutdown


def test_opening_a_store_lets_sqlite_read_a_runs_metric_history_by_run(tmp_path, empty_store, monkeypatch):
    """Without statistics SQLite reads `metrics WHERE run_uuid AND key` through the index on the key
    alone: every run's rows of that metric (20 ms per curve at 10,000 runs, benchmarks/many_runs.py)."""
    path = tmp_path / "mlflow.db"
    shutil.copy(empty_store, path)
    run_store = tracking.RunStore(f"sqlite:///{path}")
    run_ids = []
    for _ in range(30):
        logger = run_store.start_run(TrainConfig())
        for epoch in range(1, 4):
            logger.log_metrics({"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}, step=epoch)
        logger.finish("FINISHED")
        run_ids.append(logger.run_id)
    monkeypatch.setattr(store_opening, "_ready_stores", set())  # as when the app or the CLI starts again
    make_client(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        plan = connection.execute("EXPLAIN QUERY PLAN SELECT * FROM metrics WHERE run_uuid = ? AND key = ?",
                                  (run_ids[0], "loss")).fetchall()
    assert "index_metrics_run_uuid_key_step (run_uuid=? AND key=?)" in plan[0][-1]


# ---- stores that are not whole MLflow stores (issue 19) ---------------------------------------


def test_a_store_missing_one_of_mlflows_tables_is_refused_in_one_line_and_left_as_it_was(store):
    path = Path(store.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE metrics")
    before = path.read_bytes()
    with pytest.raises(tracking.StoreError) as raised:
        make_client(store)
    assert str(raised.value) == (f"The tracking store {store} is damaged: MLflow's table metrics is missing. Restore "
                                 "it from a backup, or point MLFLOW_TRACKING_URI at another store.")
    assert path.read_bytes() == before


def test_another_programs_sqlite_database_is_refused_not_made_an_mlflow_store(tmp_path):
    path = tmp_path / "mlflow.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
    before = path.read_bytes()
    uri = f"sqlite:///{path}"
    with pytest.raises(tracking.StoreError) as raised:
        make_client(uri)
    assert str(raised.value) == (f"The tracking store {uri} is an SQLite database but not an MLflow store (its tables: "
                                 "t). Move it away to start a new store, or point MLFLOW_TRACKING_URI at another one.")
    assert path.read_bytes() == before


@pytest.mark.slow
def test_the_cli_refuses_to_train_on_a_store_missing_a_table_in_one_line(store):
    """Before: 94 tracebacks, 620 s, and the run ended FINISHED without its metrics."""
    path = Path(store.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE metrics")
    done = subprocess.run([sys.executable, "-m", "cnnkit", "train", "--dataset", "digits", "--epochs", "1",
                           "--tracking-uri", store], cwd=path.parent, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=600)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip().splitlines()[-1] == (f"error: The tracking store {store} is damaged: MLflow's table "
                                                    "metrics is missing. Restore it from a backup, or point "
                                                    "MLFLOW_TRACKING_URI at another store.")
    assert "Traceback" not in done.stderr


def test_an_empty_store_file_is_refused_and_a_missing_one_is_a_new_store(tmp_path):
    empty = tmp_path / "empty" / "mlflow.db"
    empty.parent.mkdir()
    empty.touch()
    uri = f"sqlite:///{empty}"
    with pytest.raises(tracking.StoreError) as raised:
        make_client(uri)
    assert str(raised.value) == (f"The tracking store {uri} is an empty file (0 bytes), not an MLflow store. Move it "
                                 "away to start a new store, or point MLFLOW_TRACKING_URI at another one.")
    assert empty.stat().st_size == 0
    new = tmp_path / "new" / "mlflow.db"
    make_client(f"sqlite:///{new}").search_experiments()
    assert new.stat().st_size > 0

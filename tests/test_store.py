"""The tracking store: opening new, damaged and unreachable stores (one line naming the store, in
the library, the CLI and the app), and logging that waits out a busy store without holding training up."""

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
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cnnkit import tracking
from cnnkit.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
GARBAGE = bytes(range(256)) * 400  # 100 kB that is no database


@pytest.fixture(scope="session")
def store_template(tmp_path_factory):
    """A store with MLflow's tables made once: creating them takes seconds, copying a file doesn't."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    tracking.make_client(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path, store_template):
    """The URI of a fresh copy of the template store."""
    shutil.copy(store_template, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


def one_line_naming(message: str, uri: str) -> bool:
    return "\n" not in message and uri in message and "Traceback" not in message


# ---- new stores ------------------------------------------------------------------------

RACER = """
import sys
from cnnkit import tracking
client = tracking.make_client(sys.argv[1])
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
        tracking.make_client(uri)
    assert str(raised.value) == (f"The tracking store {uri} is damaged: the file is not an SQLite database. Move it "
                                 "away to start a new store, or point MLFLOW_TRACKING_URI at another one.")
    assert path.read_bytes() == GARBAGE


def test_a_truncated_store_is_refused_in_one_line_and_left_as_it_was(store):
    path = Path(store.removeprefix("sqlite:///"))
    cut = path.read_bytes()[: path.stat().st_size // 3]
    path.write_bytes(cut)
    with pytest.raises(tracking.StoreError, match="is damaged: the database file is cut short") as raised:
        tracking.make_client(store)
    assert one_line_naming(str(raised.value), store)
    assert path.read_bytes() == cut


def test_a_relative_sqlite_uri_is_checked_again_from_another_folder(tmp_path, store_template, monkeypatch):
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    shutil.copy(store_template, tmp_path / "good" / "mlflow.db")
    (tmp_path / "bad" / "mlflow.db").write_bytes(GARBAGE)
    monkeypatch.chdir(tmp_path / "good")
    tracking.make_client("sqlite:///mlflow.db")
    monkeypatch.chdir(tmp_path / "bad")
    with pytest.raises(tracking.StoreError, match="is damaged: the file is not an SQLite database"):
        tracking.make_client("sqlite:///mlflow.db")


def test_an_unknown_kind_of_uri_is_refused_in_one_line():
    with pytest.raises(tracking.StoreError) as raised:
        tracking.make_client("nosuch://store")
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
        tracking.make_client(uri)
    assert str(raised.value) == (f"The tracking store {uri} can't be reached: no answer within 5 s. Is the MLflow "
                                 "server running, and is the address right?")


def test_a_server_that_never_answers_is_given_up_on(monkeypatch):
    monkeypatch.setattr(tracking, "STORE_REACH_SECONDS", 0.5)
    with socket.socket() as silent:  # accepts connections (the backlog does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(tracking.StoreError, match="can't be reached: no answer within 0.5 s"):
            tracking.make_client(uri)


def test_a_server_that_is_not_mlflow_is_named_with_its_answer():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)  # 501 to all
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(tracking.StoreError) as raised:
            tracking.make_client(uri)
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
    assert any(error.value.startswith(expected) for error in at.error)
    assert any(error.value.startswith(expected) for error in at.sidebar.error)
    at.switch_page("app_pages/kernels.py").run()  # the Kernels page doesn't
    assert not at.exception
    assert [error.value for error in at.main.error] == []
    assert at.main.get("selectbox") or at.main.get("radio")
    assert path.read_bytes() == GARBAGE
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")  # for the fixture's shutdown


# ---- logging to a busy store ------------------------------------------------------------


def metric_steps(client, run_id: str, key: str) -> list[int]:
    return sorted(metric.step for metric in client.get_metric_history(run_id, key))


def test_a_locked_store_delays_logging_not_the_caller_and_nothing_is_lost(store):
    client = tracking.make_client(store)
    logger = tracking.start_run(client, TrainConfig())
    locker = sqlite3.connect(store.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # every write waits; before buffering, the first flush waited and then failed
    for step in range(1, 11):
        logger.log_metrics({"loss": 1 / step}, step=step)
        logger.flush()
    locker.execute("COMMIT")
    locker.close()
    logger.finish("FINISHED")
    assert metric_steps(client, logger.run_id, "loss") == list(range(1, 11))
    assert client.get_run(logger.run_id).info.status == "FINISHED"


class Refusing:
    """Makes `log_batch` of metrics fail as a locked SQLite store does, `times` times (None: always)."""

    def __init__(self, monkeypatch, times: int | None):
        self.left, self.refused = times, 0
        original = MlflowClient.log_batch

        def log_batch(client, run_id, metrics=(), *args, **kwargs):
            if metrics and (self.left is None or self.left > 0):
                self.refused += 1
                self.left = None if self.left is None else self.left - 1
                raise MlflowException("(sqlite3.OperationalError) database is locked\n[SQL: INSERT INTO metrics ...]")
            return original(client, run_id, metrics, *args, **kwargs)

        monkeypatch.setattr(MlflowClient, "log_batch", log_batch)


def test_refused_metric_writes_are_retried_until_the_store_takes_them(store, monkeypatch):
    monkeypatch.setattr(tracking, "_RETRY_FIRST_SECONDS", 0.01)
    client = tracking.make_client(store)
    logger = tracking.start_run(client, TrainConfig())
    refusing = Refusing(monkeypatch, times=3)
    for step in range(1, 6):
        logger.log_metrics({"loss": 1 / step, "accuracy": step / 10}, step=step)
        logger.flush()
    logger.finish("FINISHED")
    assert refusing.refused == 3
    assert metric_steps(client, logger.run_id, "loss") == metric_steps(client, logger.run_id, "accuracy") == [1, 2, 3, 4, 5]
    assert client.get_run(logger.run_id).info.status == "FINISHED"


def test_a_run_starts_on_a_store_that_refuses_to_create_it_for_a_while(store, monkeypatch):
    monkeypatch.setattr(tracking, "_RETRY_FIRST_SECONDS", 0.01)
    original, refusals = MlflowClient.create_run, [2]

    def create_run(client, *args, **kwargs):
        if refusals[0]:
            refusals[0] -= 1
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        return original(client, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_run", create_run)
    client = tracking.make_client(store)
    logger = tracking.start_run(client, TrainConfig(epochs=7))
    logger.finish("FINISHED")
    assert refusals == [0]
    runs = client.search_runs([client.get_experiment_by_name(tracking.DEFAULT_EXPERIMENT).experiment_id])
    assert [(run.info.run_id, run.info.status, run.data.params["epochs"]) for run in runs] == \
        [(logger.run_id, "FINISHED", "7")]


@pytest.mark.slow
def test_training_on_a_store_that_refuses_writes_for_a_while_finishes_with_every_epoch(store, monkeypatch):
    from cnnkit.training import train

    monkeypatch.setattr(tracking, "_RETRY_FIRST_SECONDS", 0.05)
    refusing = Refusing(monkeypatch, times=4)
    result = train(TrainConfig(dataset="digits", epochs=3), tracking_uri=store)
    assert result.status == "FINISHED", result.error
    assert refusing.refused == 4
    client = tracking.make_client(store)
    for key in ("loss", "val_loss", "lr"):
        assert metric_steps(client, result.run_id, key) == [1, 2, 3], key
    steps = metric_steps(client, result.run_id, "batch_loss")
    assert len(set(steps)) == len(steps) and len({later - earlier for earlier, later in zip(steps, steps[1:])}) == 1
    assert client.get_run(result.run_id).info.status == "FINISHED"


@pytest.mark.slow
def test_training_on_a_store_that_stays_away_past_the_patience_ends_failed_saying_since_when(store, monkeypatch):
    from cnnkit.training import train

    monkeypatch.setattr(tracking, "_RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(tracking, "STORE_PATIENCE_SECONDS", 0.5)
    Refusing(monkeypatch, times=None)
    result = train(TrainConfig(dataset="digits", epochs=3), tracking_uri=store)
    assert result.status == "FAILED"
    assert "tracking store busy/unreachable since " in result.error
    assert "database is locked" in result.error and "\n" not in result.error
    run = tracking.make_client(store).get_run(result.run_id)
    assert run.info.status == "FAILED"
    assert "tracking store busy/unreachable since " in run.data.tags["cnnkit.error"]


def test_a_finished_runs_writer_thread_ends(store):
    logger = tracking.start_run(tracking.make_client(store), TrainConfig())
    logger.log_metrics({"loss": 1.0}, step=1)
    writer = next(thread for thread in threading.enumerate() if thread.name == f"RunLogger {logger.run_id[:8]}")
    logger.finish("FINISHED")
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert metric_steps(tracking.make_client(store), logger.run_id, "loss") == [1]


def test_opening_a_store_lets_sqlite_read_a_runs_metric_history_by_run(tmp_path, store_template, monkeypatch):
    """Without statistics SQLite reads `metrics WHERE run_uuid AND key` through the index on the key
    alone: every run's rows of that metric (20 ms per curve at 10,000 runs, benchmarks/many_runs.py)."""
    path = tmp_path / "mlflow.db"
    shutil.copy(store_template, path)
    client = tracking.make_client(f"sqlite:///{path}")
    run_ids = []
    for _ in range(30):
        logger = tracking.start_run(client, TrainConfig())
        for epoch in range(1, 4):
            logger.log_metrics({"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}, step=epoch)
        logger.finish("FINISHED")
        run_ids.append(logger.run_id)
    monkeypatch.setattr(tracking, "_ready_stores", set())  # as when the app or the CLI starts again
    tracking.make_client(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        plan = connection.execute("EXPLAIN QUERY PLAN SELECT * FROM metrics WHERE run_uuid = ? AND key = ?",
                                  (run_ids[0], "loss")).fetchall()
    assert "index_metrics_run_uuid_key_step (run_uuid=? AND key=?)" in plan[0][-1]


def test_where_runs_go_names_the_user_of_a_server_and_never_a_password(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "secret")
    assert tracking.describe_store("http://127.0.0.1:5000") == "http://127.0.0.1:5000 as ada"
    assert tracking.describe_store("sqlite:////data/mlflow.db") == "sqlite:////data/mlflow.db"  # no login there
    assert tracking.describe_store("postgresql+psycopg2://ada:secret@db:5432/mlflow") == \
        "postgresql+psycopg2://ada:***@db:5432/mlflow"
    with pytest.raises(tracking.StoreError) as raised:
        tracking.make_client("nosuch://ada:secret@store")
    assert "secret" not in str(raised.value)


def test_a_store_without_logins_lets_anyone_launch(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    store = tracking.RunStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    store.check_can_launch()
    assert store.runs_frame().empty  # nothing was created to find out

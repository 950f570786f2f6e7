"""The tracking store: opening new, damaged and unreachable stores (one line naming the store, in
the library, the CLI and the app), and logging that waits out a busy store without holding training up."""

import errno
import http.server
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cnnkit import tracking
from alerts import alert_text
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
    assert any(alert_text(error).startswith(expected) for error in at.error)
    assert any(alert_text(error).startswith(expected) for error in at.sidebar.error)
    at.switch_page("app_pages/kernels.py").run()  # the Kernels page doesn't
    assert not at.exception
    assert [alert_text(error) for error in at.main.error] == []
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


# ---- stores that are not whole MLflow stores (issue 19) ---------------------------------------


def test_a_store_missing_one_of_mlflows_tables_is_refused_in_one_line_and_left_as_it_was(store):
    path = Path(store.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE metrics")
    before = path.read_bytes()
    with pytest.raises(tracking.StoreError) as raised:
        tracking.make_client(store)
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
        tracking.make_client(uri)
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
        tracking.make_client(uri)
    assert str(raised.value) == (f"The tracking store {uri} is an empty file (0 bytes), not an MLflow store. Move it "
                                 "away to start a new store, or point MLFLOW_TRACKING_URI at another one.")
    assert empty.stat().st_size == 0
    new = tmp_path / "new" / "mlflow.db"
    tracking.make_client(f"sqlite:///{new}").search_experiments()
    assert new.stat().st_size > 0


def test_a_write_the_store_can_never_take_fails_at_once_not_after_the_patience(store, monkeypatch):
    monkeypatch.setattr(tracking, "STORE_PATIENCE_SECONDS", 30)  # before the fix: 30 s of retries, then StoreUnavailable
    client = tracking.make_client(store)
    logger = tracking.start_run(client, TrainConfig())
    with sqlite3.connect(store.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TABLE latest_metrics")  # broken while the run logs
    logger.log_metrics({"loss": 1.0}, step=1)
    with pytest.raises(tracking.StoreError) as raised:
        logger.flush(wait=True)
    assert one_line_naming(str(raised.value), store)
    assert "can't be written: (sqlite3.OperationalError) no such table: latest_metrics" in str(raised.value)


# ---- the patience: what is waited for, by whom, and for how long ---------------------------


def locked():
    raise MlflowException("(sqlite3.OperationalError) database is locked")


def test_a_call_refused_past_the_patience_gives_up_while_other_calls_succeed(monkeypatch):
    """Before: the heartbeat's successful writes reset the patience's one timer, so a write the
    store kept refusing (as a full artifact disk was) was retried forever."""
    monkeypatch.setattr(tracking, "_RETRY_FIRST_SECONDS", 0.02)
    patience, outcome = tracking.Patience(seconds=0.5), []

    def refused_write():
        with pytest.raises(tracking.StoreUnavailable) as raised:
            patience.call(locked)
        outcome.append(str(raised.value))

    writer = threading.Thread(target=refused_write, daemon=True)
    writer.start()
    give_up_at = time.monotonic() + 60
    while writer.is_alive() and time.monotonic() < give_up_at:
        patience.call(lambda: None)  # a heartbeat the store takes, as often as it beats
        writer.join(timeout=0.05)
    assert not writer.is_alive(), "the refused write was still being retried after 60 s"
    assert outcome[0].startswith("tracking store busy/unreachable since ")


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    MlflowException("(sqlite3.OperationalError) database or disk is full"),
    MlflowException("(sqlite3.OperationalError) no such table: metrics"),
], ids=["ENOSPC", "SQLite full", "no such table"])
def test_a_full_disk_or_a_broken_store_is_not_retried(monkeypatch, error):
    monkeypatch.setattr(tracking, "_RETRY_FIRST_SECONDS", 0.02)
    tries = []

    def refused():
        tries.append(1)
        raise error

    with pytest.raises(type(error)):
        tracking.Patience(seconds=5).call(refused)  # before: retried for 5 s, then StoreUnavailable
    assert len(tries) == 1


def test_a_stop_request_ends_the_wait_for_a_refusing_store_within_its_grace(monkeypatch):
    monkeypatch.setattr(tracking, "STOP_GRACE_SECONDS", 0.5)
    stop = threading.Event()
    patience = tracking.Patience(seconds=600, stop=stop)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(tracking.StoreWaitStopped):
        patience.call(locked)
    assert time.monotonic() - started < 60  # before: retried for the whole 600 s patience
    with pytest.raises(tracking.StoreWaitStopped):  # the grace is spent: a call to a refusing store isn't tried
        patience.call(lambda: pytest.fail("tried"))
    assert patience.call(lambda: "taken", kind="artifacts") == "taken"  # a kind that wasn't refused still is

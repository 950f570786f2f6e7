"""SIGTERM (docker stop, systemd, kill) ends a process's runs KILLED with what they logged, then the process."""

import json
import signal

import pytest

from cnnkit.jobs import SIGNAL_REASONS
from cnnkit.tracking.store_opening import make_client
from run_processes import ended_output, logged_epochs, running_run_with_epochs, start, wait_for

LONG_RUN = ["--dataset", "digits", "--epochs", "300", "--set", "batch_size=64", "--set", "seed=7"]
NOTE = "Stopped: the process got SIGTERM (docker stop, systemd or kill)."

JOB_MANAGER_SCRIPT = """
import sys
from cnnkit.config import TrainConfig
from cnnkit.jobs import JobManager

manager = JobManager(tracking_uri=sys.argv[1])
job = manager.submit(TrainConfig(dataset="digits", epochs=300, batch_size=64, seed=7))
manager.wait(job)
print("the job ended by itself")
"""

# Streamlit's own server in the main thread, with its SIGTERM handler; the manager made in another
# thread, as the app's first session makes it (app_pages/common.py).
STREAMLIT_SCRIPT = """
import sys, threading
from streamlit.web import bootstrap
from cnnkit.config import TrainConfig
from cnnkit.jobs import JobManager

sessions = []

def session():
    sessions.append(JobManager(tracking_uri=sys.argv[1]))
    sessions[0].submit(TrainConfig(dataset="digits", epochs=300, batch_size=64, seed=7))

threading.Thread(target=session).start()
bootstrap.run(sys.argv[2], False, [], {})
print("the server stopped")
"""


def assert_killed_with_its_epochs(store: str, run_id: str, note: str = NOTE) -> None:
    run = make_client(store).get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["cnnkit.error"] == note
    epochs = logged_epochs(store, run_id)
    assert epochs and epochs == list(range(1, len(epochs) + 1))  # what it trained is kept, each epoch once


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_cli_run_killed_and_the_process_with_128_plus_its_number(tmp_path, signum, status):
    """The Ray runner's twin: tests/jobs/test_ray_runner.py, the same line and exit status."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start(["-m", "cnnkit", "train", *LONG_RUN], store, tmp_path)
    try:
        run_id = wait_for(running_run_with_epochs(store), what="an epoch logged")
        process.send_signal(signum)
        out, err = ended_output(process)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert "Traceback" not in err
    note = SIGNAL_REASONS[signum]
    assert json.loads(out.strip().splitlines()[-1]) == {"run_id": run_id, "status": "KILLED", "error": note}
    assert_killed_with_its_epochs(store, run_id, note)


@pytest.mark.slow
def test_sigterm_ends_a_job_managers_runs_killed_before_the_process_exits(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    script = tmp_path / "serve.py"
    script.write_text(JOB_MANAGER_SCRIPT)
    process = start([str(script), store], store, tmp_path)
    try:
        run_id = wait_for(running_run_with_epochs(store), what="an epoch logged")
        process.send_signal(signal.SIGTERM)
        out, err = ended_output(process)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "the job ended by itself" not in out
    assert_killed_with_its_epochs(store, run_id)


@pytest.mark.slow
def test_sigterm_to_the_streamlit_server_ends_its_jobs_runs_killed_as_it_exits(tmp_path, monkeypatch):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    script, page = tmp_path / "server.py", tmp_path / "page.py"
    script.write_text(STREAMLIT_SCRIPT)
    page.write_text("import streamlit as st\nst.write('hello')\n")
    monkeypatch.setenv("STREAMLIT_SERVER_HEADLESS", "true")
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "127.0.0.1")
    monkeypatch.setenv("STREAMLIT_SERVER_PORT", "8631")  # another port is taken when this one is busy
    process = start([str(script), store, str(page)], store, tmp_path)
    try:
        run_id = wait_for(running_run_with_epochs(store), what="an epoch logged")
        process.send_signal(signal.SIGTERM)
        out, err = ended_output(process)
    finally:
        process.kill()
    assert process.returncode == 0 and "the server stopped" in out, err
    assert_killed_with_its_epochs(store, run_id, "Stopped: the process was shutting down.")

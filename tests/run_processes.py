"""Helpers for tests that train in a child process and watch its run through the store."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cnnkit.tracking.store_opening import make_client

ROOT = Path(__file__).resolve().parent.parent


def start(args: list[str], store: str, cwd: Path) -> subprocess.Popen:
    """`python <args>` with MLFLOW_TRACKING_URI set to `store`, its output captured. Its faulthandler is
    on, so SIGABRT writes every thread's stack to its stderr (`ended_output`)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-X", "faulthandler", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def ended_output(process: subprocess.Popen, timeout: float = 240.0) -> tuple[str, str]:
    """(stdout, stderr) of `process` (from `start`) once it has ended. One still running after `timeout`
    seconds is aborted, and the test fails with the stacks its threads were in: where it hung."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate(timeout=60)
        raise AssertionError(f"the process had not ended after {timeout:.0f} s; its threads then:\n{err[-8000:]}") from None


def wait_for(condition, timeout: float = 300.0, what: str = "the condition"):
    """Poll `condition()` until it returns something true; that value. Fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running_run_with_epochs(store: str, epochs: int = 1):
    """A condition: the id of a RUNNING run that has logged at least `epochs` epochs, else None."""
    client = make_client(store)

    def check():
        for run in client.search_runs([e.experiment_id for e in client.search_experiments()]):
            if run.info.status == "RUNNING" and len(client.get_metric_history(run.info.run_id, "loss")) >= epochs:
                return run.info.run_id
        return None

    return check


def logged_epochs(store: str, run_id: str, key: str = "loss") -> list[int]:
    """The steps at which the run logged `key`, in order, repeats kept."""
    return sorted(metric.step for metric in make_client(store).get_metric_history(run_id, key))

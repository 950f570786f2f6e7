"""A real Ray head on 127.0.0.1 for the tests, started as the README says: a token made first, then
`ray start --head --block` (in its own process group, its own temp folder and free ports), which turns
token auth on because it finds the token; RAY_AUTH_MODE is not set for it.

Ray reads RAY_AUTH_MODE into its config once, when a process first imports it, and test modules
import Ray as they are collected: so the token is made and named in the environment by
tests/conftest.py (`name_the_token`), before any test module is imported."""

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SLOTS = 2  # the cluster's cnnkit_slot resources: jobs at once


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def name_the_token() -> None:
    """Make this test session's Ray token (a 0600 file) and name it in RAY_AUTH_MODE and
    RAY_AUTH_TOKEN_PATH, for this process (its Jobs API clients) and the processes it starts."""
    folder = tempfile.mkdtemp(prefix="raytoken")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    token_file = Path(folder) / "auth_token"
    token_file.write_text(secrets.token_hex(32))
    token_file.chmod(0o600)
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)})


class RayHead:
    """Started with the token `name_the_token` named in RAY_AUTH_TOKEN_PATH, and no RAY_AUTH_MODE."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths have a length limit
        environment = {name: value for name, value in os.environ.items() if name != "RAY_AUTH_MODE"}
        dashboard = free_port()
        self.address = f"http://127.0.0.1:{dashboard}"
        ray = str(Path(sys.executable).with_name("ray"))
        self.process = subprocess.Popen(
            [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={free_port()}",
             f"--dashboard-port={dashboard}", "--dashboard-host=127.0.0.1", "--num-cpus=2", "--disable-usage-stats",
             # free ports, not Ray's fixed defaults (10001, 52365): another head may run on this machine
             f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
             f"--temp-dir={self.folder / 'tmp'}", f"--resources={{\"cnnkit_slot\": {SLOTS}}}"],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_until_up(self, timeout: float = 300.0) -> None:
        from ray.job_submission import JobSubmissionClient

        deadline = time.monotonic() + timeout
        while True:
            try:
                JobSubmissionClient(self.address)
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def stop(self) -> None:
        """SIGTERM to `ray start --block` stops the head's processes; what is left of its group is killed."""
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

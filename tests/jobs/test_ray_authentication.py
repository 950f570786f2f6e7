"""The Ray runner uses only a cluster with token authentication on, as its dashboard says it has, unless
CNNKIT_RAY_OPEN_CLUSTER=1; the Jobs API and the state API are stood in for, the dashboard's
/api/authentication_mode page is served here. The real head refusing a job without its token is in
test_ray_runner.py."""

import http.server
import json
import threading

import pytest

pytest.importorskip("ray")

import ray.job_submission  # noqa: E402
import ray.util.state  # noqa: E402

from cnnkit.errors import InputError  # noqa: E402
from cnnkit.jobs.ray_runner import OPEN_CLUSTER_VARIABLE, RayRunner, authentication_mode  # noqa: E402


class Dashboard(http.server.BaseHTTPRequestHandler):
    mode: str | None = "token"  # what /api/authentication_mode answers; None: no such page (a Ray before 2.52)

    def do_GET(self):
        if self.path != "/api/authentication_mode" or self.mode is None:
            self.send_error(404)
            return
        body = json.dumps({"authentication_mode": self.mode}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def dashboard(monkeypatch):
    """The address of a dashboard whose authentication mode is `Dashboard.mode`; Jobs and state APIs stood in for."""
    monkeypatch.setattr(ray.job_submission, "JobSubmissionClient", lambda address: object())
    monkeypatch.setattr(ray.util.state, "list_nodes", lambda **_: [])
    monkeypatch.delenv(OPEN_CLUSTER_VARIABLE, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Dashboard)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode, read", [("token", "token"), ("disabled", "disabled"), (None, "disabled")])
def test_the_mode_is_what_the_dashboard_says(dashboard, monkeypatch, mode, read):
    monkeypatch.setattr(Dashboard, "mode", mode)
    assert authentication_mode(dashboard) == read


def test_a_cluster_without_token_authentication_is_refused_in_one_line_unless_said_protected(dashboard, monkeypatch):
    """Before, the runner sent its jobs (any command) to a cluster anyone who reaches it may use."""
    assert RayRunner(dashboard, "sqlite:///unused.db").capacity() is None  # token: used
    monkeypatch.setattr(Dashboard, "mode", "disabled")
    with pytest.raises(InputError, match=rf"^The Ray cluster at {dashboard} runs without token authentication: .*"
                                         r"`ray get-auth-token --generate`.* set CNNKIT_RAY_OPEN_CLUSTER=1\.$"):
        RayRunner(dashboard, "sqlite:///unused.db")
    monkeypatch.setenv(OPEN_CLUSTER_VARIABLE, "1")
    RayRunner(dashboard, "sqlite:///unused.db")

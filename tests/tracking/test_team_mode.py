"""Team mode: a real PostgreSQL and a real MLflow server with logins, started by scripts/team_server.sh
on 127.0.0.1 once per test session; runs trained, compared and classified through it, and a read-only
user and a wrong password each told in one line (library, command line, app)."""

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnkit import cli, tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.models import predict
from cnnkit.tracking import run_schema, store_opening
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from test_pages import launch_button
from test_store_opening import free_port
from alerts import alert_text

pytestmark = [pytest.mark.team, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TINY = TrainConfig(dataset="digits", epochs=1, train_limit=300)


@dataclass(frozen=True)
class TeamServer:
    uri: str
    admin_password: str
    folder: Path


def team_server_script(command: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts" / "team_server.sh"), command, str(folder)], env=env,
                          capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def running_team_server():
    # Not under pytest's own temporary folder: as root the script runs PostgreSQL as the postgres user,
    # which can't enter /tmp/pytest-of-root. 0711 lets it through this folder without listing it.
    folder = Path(tempfile.mkdtemp(prefix="cnnkit-team-"))
    folder.chmod(0o711)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_TRACKING_")}
    env |= {"CNNKIT_TEAM_PORT": str(port), "CNNKIT_TEAM_PG_PORT": str(free_port()), "CNNKIT_TEAM_WORKERS": "1",
            "PYTHON": sys.executable}
    server = folder / "server"
    try:
        started = team_server_script("start", server, env)
        log = (server / "mlflow.log").read_text() if (server / "mlflow.log").exists() else ""
        assert started.returncode == 0, started.stdout + started.stderr + log[-3000:]
        assert team_server_script("start", server, env).stdout.startswith("already running")  # safe to rerun
        password = (server / "admin-password").read_text().strip()
        assert (server / "admin-password").stat().st_mode & 0o777 == 0o600
        yield TeamServer(f"http://127.0.0.1:{port}", password, server)
    finally:
        stopped = team_server_script("stop", server, env)
        shutil.rmtree(folder, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="session")
def team_server():
    with running_team_server() as server:
        yield server


@pytest.fixture
def fresh_team_server():
    """A server of its own, where no one has launched anything yet: no `cnnkit` experiment."""
    with running_team_server() as server:
        yield server


@pytest.fixture(autouse=True)
def patient_reach(monkeypatch):
    """Each new login costs the server a password hash (scrypt): seconds on a busy 2-core CI machine."""
    monkeypatch.setattr(store_opening, "STORE_REACH_SECONDS", 60.0)


def log_in(monkeypatch, server: TeamServer, user: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


def digit_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image.squeeze().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_digits_run_trains_through_the_server_and_is_compared_and_classified_from_it(team_server, monkeypatch):
    from cnnkit.training import train

    log_in(monkeypatch, team_server, "admin", team_server.admin_password)
    result = train(TINY)
    assert result.status == "FINISHED", result.error

    store = tracking.RunStore()
    assert store.describe() == f"{team_server.uri} as admin"
    store.check_can_launch()  # the admin may
    run = store.run(result.run_id)
    assert run.status == "FINISHED"
    assert 0 <= run.metrics[run_schema.TEST_ACCURACY] <= 1
    assert list(team_server.folder.joinpath("artifacts").rglob("model.keras"))  # in the shared artifact folder
    # Compare's calls: the results table and the curves
    assert store.results_table([result.run_id])[run_schema.TEST_ACCURACY].iloc[0] == run.metrics[run_schema.TEST_ACCURACY]
    assert len(store.histories([result.run_id])) == 1  # one epoch
    # Classify's calls: the model (its checksum checked) on the run's own test images
    model, evaluation = store.load_model(result.run_id), store.evaluation_of_run(result.run_id)
    test = store.test_split_of_run(result.run_id)
    files = [(f"{index}.png", digit_png(test.x_test[index])) for index in range(8)]
    table = predict.predict_files(model, files, evaluation.class_names, light_on_dark=True)
    assert (table["error"] == "").all() and table["predicted"].isin(evaluation.class_names).all()


def reader_refused(uri: str, permission: str = "") -> str:
    """The line the user `reader` gets for a launch: from the launch check, which names the permission
    the server gave (" (permission READ)"), or from creating the run, which doesn't."""
    return (f"User reader may not launch runs in experiment 'cnnkit' on {uri}{permission}: that needs EDIT "
            "permission, which the server's admin can grant.")


def test_a_user_who_may_only_read_is_refused_launching_in_one_line(team_server, monkeypatch, app, capsys):
    from mlflow.server.auth.client import AuthServiceClient

    from app_pages.common import job_manager

    log_in(monkeypatch, team_server, "admin", team_server.admin_password)
    tracking.RunStore().experiment_id(tracking.DEFAULT_EXPERIMENT)  # the admin's; others get READ
    AuthServiceClient(team_server.uri).create_user("reader", "reader-password-1")
    admins_run = tracking.RunStore().start_run(TINY, run_name="the admin's")
    admins_run.finish("FINISHED")
    runs_before = len(tracking.RunStore().runs_frame())
    log_in(monkeypatch, team_server, "reader", "reader-password-1")
    refusal = reader_refused(team_server.uri, " (permission READ)")

    with pytest.raises(tracking.StoreError) as raised:
        tracking.RunStore().check_can_launch()
    assert str(raised.value) == refusal
    denied = reader_refused(team_server.uri)
    with pytest.raises(tracking.StoreError) as raised:  # creating the run itself: refused at once, not retried
        tracking.RunStore().start_run(TINY)
    assert str(raised.value) == denied

    with pytest.raises(InputError) as raised:  # the Runs page's rename, tag, delete
        tracking.RunStore().rename_run(admins_run.run_id, "mine now")
    assert str(raised.value) == ("User reader may only read this run: changing it needs EDIT permission on its "
                                 "experiment, which the tracking server's admin can grant.")
    assert tracking.RunStore().run(admins_run.run_id).name == "the admin's"

    assert cli.main(["train", "--dataset", "digits", "--epochs", "1"]) == 2
    assert capsys.readouterr().err == f"error: {denied}\n"

    at = app.run()  # the Train page, logged in as the reader
    assert any(caption.value.endswith(f"Runs in {team_server.uri} as reader") for caption in at.sidebar.caption)
    launch_button(at).click()
    at.run()
    assert [alert_text(toast) for toast in at.toast] == [f"Not launched: {refusal}"]
    assert not at.exception
    assert job_manager().snapshots() == []
    assert len(tracking.RunStore().runs_frame()) == runs_before  # nothing was created

    log_in(monkeypatch, team_server, "admin", team_server.admin_password)  # the README's way to let them launch
    experiment = tracking.RunStore().experiment_id(tracking.DEFAULT_EXPERIMENT)
    AuthServiceClient(team_server.uri).grant_user_permission("reader", "experiment", experiment, "EDIT")
    log_in(monkeypatch, team_server, "reader", "reader-password-1")
    tracking.RunStore().check_can_launch()


def test_a_user_who_may_only_read_is_refused_on_a_fresh_server_without_creating_the_shared_experiment(
        fresh_team_server, monkeypatch, app, capsys):
    from mlflow.server.auth.client import AuthServiceClient

    from app_pages.common import job_manager

    server = fresh_team_server
    log_in(monkeypatch, server, "admin", server.admin_password)
    AuthServiceClient(server.uri).create_user("reader", "reader-password-1")

    def experiments():
        return sorted(experiment.name for experiment in make_client().search_experiments())

    before = experiments()
    assert tracking.DEFAULT_EXPERIMENT not in before
    log_in(monkeypatch, server, "reader", "reader-password-1")
    refusal = reader_refused(server.uri, " (permission READ)")
    with pytest.raises(tracking.StoreError) as raised:
        tracking.RunStore().check_can_launch()
    assert str(raised.value) == refusal
    denied = reader_refused(server.uri)
    with pytest.raises(tracking.StoreError) as raised:  # creating the run itself, the experiment first
        tracking.RunStore().start_run(TINY)
    assert str(raised.value) == denied
    assert cli.main(["train", "--dataset", "digits", "--epochs", "1"]) == 2
    assert capsys.readouterr().err == f"error: {denied}\n"
    at = app.run()  # the Train page, logged in as the reader
    launch_button(at).click()
    at.run()
    assert [alert_text(toast) for toast in at.toast] == [f"Not launched: {refusal}"]
    assert not at.exception
    assert job_manager().snapshots() == []

    log_in(monkeypatch, server, "admin", server.admin_password)
    assert experiments() == before  # nothing was created
    tracking.RunStore().check_can_launch()  # the admin may launch first (MLflow's admins may do anything)
    assert experiments() == before


def test_a_wrong_password_or_no_server_is_one_line_in_the_library_the_cli_and_the_app(team_server, monkeypatch, app,
                                                                                        capsys):
    log_in(monkeypatch, team_server, "admin", "not-the-password")
    refusal = (f"The tracking server {team_server.uri} refused the login of user admin: wrong user name or password "
               "(MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD).")
    with pytest.raises(tracking.StoreError) as raised:
        tracking.RunStore()
    assert str(raised.value) == refusal

    assert cli.main(["list", "models"]) == 2
    assert capsys.readouterr().err == f"error: {refusal}\n"

    try:
        at = app.run()  # the Train page
        assert [alert_text(error) for error in at.main.error] == [refusal]
        assert [alert_text(error) for error in at.sidebar.error] == [refusal]
        assert not at.exception
        at.switch_page("app_pages/runs.py").run()
        assert [alert_text(error) for error in at.main.error] == [refusal]
        assert not at.exception
        shown = [alert_text(element) for element in [*at.sidebar.caption, *at.error, *at.markdown]]
        assert any(caption.endswith(f"Runs in {team_server.uri} as admin") for caption in shown)
        assert "not-the-password" not in " ".join(map(str, shown))

        nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        monkeypatch.setenv("MLFLOW_TRACKING_URI", nowhere)
        unreachable = (f"The tracking store {nowhere} can't be reached: no answer within 60 s. Is the MLflow server "
                       "running, and is the address right?")
        assert cli.main(["list", "models"]) == 2
        assert capsys.readouterr().err == f"error: {unreachable}\n"
        at.switch_page("app_pages/train.py").run()
        assert [alert_text(error) for error in at.main.error] == [unreachable]
        assert not at.exception
    finally:  # the app fixture's teardown stops the job manager, which needs the store
        log_in(monkeypatch, team_server, "admin", team_server.admin_password)

"""Every config that will train passes one check of its "Path on this machine" (`ServerPaths.confine`):
the job manager's (every page, ablation, search, fork and resume goes through it), the command line's and
a cluster worker's. An app served beyond localhost trains on uploads only, from every entry point."""

import dataclasses
import json

import pytest

from cnnkit import tracking, training
from cnnkit.tracking.store_opening import make_client
from cnnkit.experiments import search
from cnnkit.cli import main
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs import JobManager
from cnnkit.jobs.runner import JobSpec
from cnnkit.config.server_paths import ServerPaths
from cnnkit.jobs.worker import read_job

from test_manager import TIMEOUT, FakeTrainer
from test_train_page_paths import served_on  # noqa: F401  (a fixture)
from alerts import alert_text

NOT_AN_UPLOAD = r"^Path on this machine: .* is not an upload, and paths on this machine are off"


@pytest.fixture()
def closed(tmp_path, monkeypatch):
    """The policy of an app served beyond localhost: uploads only."""
    for variable in ("CNNKIT_ALLOW_SERVER_PATHS", "CNNKIT_DATA_ROOTS", "CNNKIT_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "uploads").mkdir()
    return ServerPaths.for_app(None, tmp_path / "uploads")


@pytest.fixture()
def outside(tmp_path):
    """A folder dataset outside every allowed folder (what the audit's ablation trained four runs on)."""
    folder = tmp_path / "private"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
    return TrainConfig(dataset="folder", dataset_path=str(folder), epochs=2)


@pytest.fixture()
def manager(closed):
    fake = FakeTrainer()
    made = JobManager(trainer=fake, recover_stale_runs=False, server_paths=closed)
    made.fake = fake
    yield made
    fake.release_all()
    made.shutdown(timeout=TIMEOUT)


def test_the_job_manager_refuses_a_path_outside_for_every_kind_of_job_and_trains_an_upload(manager, outside, closed):
    with pytest.raises(InputError, match=NOT_AN_UPLOAD) as raised:
        manager.submit(outside, "outside")
    assert raised.value.field == "dataset_path"
    with pytest.raises(InputError, match=NOT_AN_UPLOAD):
        manager.submit_lr_find(outside)
    assert manager.snapshots() == [] and not manager.fake.runs  # nothing queued, nothing trained
    upload = TrainConfig(dataset="csv", dataset_path=str(closed.uploads / "digits.csv"))
    job = manager.submit(upload, "upload")
    manager.fake.started("upload").end()
    assert manager.wait(job, TIMEOUT).state == "finished"


def test_a_search_over_a_base_outside_trains_no_trial(manager, outside, tmp_path):
    manager.tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # Optuna's storage sits next to the store
    searches = search.Searches(manager)
    spec = search.SearchSpec(outside, (search.parse_range("learning_rate=1e-4:1e-1:log"),), trials=3)
    name = searches.start(spec)
    assert not searches.wait(name, TIMEOUT).is_active
    assert manager.snapshots() == [] and not manager.fake.runs
    [trial] = searches.trials(name)
    assert trial.state == "FAIL" and trial.note.startswith("Path on this machine: ")


def stored_run(tmp_path, cfg: TrainConfig, status: str) -> tuple[str, str]:
    """A run of `cfg` made in a store without training, ended `status`; (store, run id)."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = tracking.RunStore(store).start_run(cfg, run_name="made by the operator's command line")
    logger.finish(status)
    return store, logger.run_id


def test_a_fork_of_a_run_whose_data_lies_outside_is_refused(manager, outside, tmp_path, monkeypatch):
    manager.tracking_uri, run_id = stored_run(tmp_path, outside.replace(snapshot_every=1), "FINISHED")
    monkeypatch.setattr(tracking.RunStore, "snapshot_epochs", lambda store, run_id: [1])  # as if it had kept a snapshot
    with pytest.raises(InputError, match=NOT_AN_UPLOAD):
        manager.fork(run_id, 1, {"learning_rate": 0.0003})
    assert manager.snapshots() == []


def test_resuming_a_run_whose_data_lies_outside_is_refused(manager, outside, tmp_path, monkeypatch):
    """The Runs page's Resume button (and its fork) call the app's manager: a visitor can't relaunch a run
    the operator trained on a server folder."""
    manager.tracking_uri, run_id = stored_run(tmp_path, outside, "KILLED")
    monkeypatch.setattr(training, "resumable", lambda run_id, tracking_uri: None)  # as if it had a checkpoint
    with pytest.raises(InputError, match=NOT_AN_UPLOAD):
        manager.resume(run_id)
    assert manager.snapshots() == []


def test_a_worker_checks_its_job_against_the_policy_of_the_app_that_submitted_it(closed, outside):
    refused = JobSpec("job-1", "train", outside, "outside", None, "cnnkit", "r" * 32, server_paths=closed)
    assert JobSpec.from_json(refused.to_json()).server_paths == closed  # the policy travels with the job
    with pytest.raises(InputError, match=NOT_AN_UPLOAD):
        read_job(refused.to_json())
    # The app's upload, not on the worker's machine: taken, then fetched from the store (worker.with_local_data).
    upload = outside.replace(dataset="csv", dataset_path=str(closed.uploads / "gone.csv"))
    assert read_job(dataclasses.replace(refused, config=upload).to_json()).config == upload


def test_the_worker_command_refuses_the_job_in_one_line_and_trains_nothing(closed, outside, tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = tracking.RunStore(store).schedule_run(outside, run_name="outside")
    job = JobSpec("job-1", "train", outside, "outside", store, "cnnkit", run_id, server_paths=closed)
    capsys.readouterr()  # MLflow's own lines on making the store
    assert main(["worker", job.to_json()]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Path on this machine (dataset_path): ")
    assert make_client(store).get_run(run_id).data.metrics == {}  # not one batch trained


def test_the_command_line_takes_any_path_but_refuses_a_symlink_loop_before_a_run_exists(tmp_path, capsys):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = main(["train", "--dataset", "folder", "--epochs", "1", "--set", f"dataset_path={tmp_path / 'a'}",
                 "--tracking-uri", store])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: Path on this machine (dataset_path): {tmp_path / 'a'} is a loop of symbolic links that leads to no "
        "file or folder."]
    client = make_client(store)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []  # no run was made


def test_a_job_from_the_operators_own_code_may_name_any_path():
    cfg = TrainConfig(dataset="csv", dataset_path="/srv/elsewhere/data.csv")
    manager = JobManager(recover_stale_runs=False)
    assert manager.server_paths.confine(cfg) is cfg
    manager.shutdown()
    assert json.loads(JobSpec("j", "train", cfg, "n", None, "cnnkit").to_json())["server_paths"]["roots"] is None


def test_the_ablation_page_served_beyond_localhost_launches_nothing_on_a_base_outside(app, served_on, outside):
    from app_pages.common import job_manager
    from test_ablation_page import ablation_page, launch_button

    served_on(None)
    at = ablation_page(app)
    at.text_input(key="ablation.changes").set_value(f"dataset=folder, dataset_path={outside.dataset_path}, epochs=1").run()
    at.multiselect(key="ablation.factors").set_value(["flip"]).run()
    launch_button(at).click().run()
    assert not at.exception
    assert [alert_text(error) for error in at.error] == [
        f"Path on this machine: {outside.dataset_path} is not an upload, and paths on this machine are off because the "
        "app is not served on localhost: upload the file instead (the operator can set CNNKIT_ALLOW_SERVER_PATHS=1)."]
    assert job_manager().snapshots() == []

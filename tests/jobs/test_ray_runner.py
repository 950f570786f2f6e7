"""The Ray Jobs runner against a real local Ray head (token auth on): a digits run submitted through
the job manager finishes in MLflow; the runner's capacity is the head's cnnkit_slot count, so the
manager queues a third job itself, while the cluster holds another app's job PENDING; after the app
exits, a new manager adopts the jobs still on the cluster, and one it cancels ends KILLED with its epochs;
a worker killed outright leaves its run to the stale-run check (at once: its process on this machine is gone); the
CLI trains there with `--runner`, following the worker's log, stops the job on SIGTERM or SIGINT with the
thread runner's exit status and last line, and says in one line when the cluster wants a token; the head,
started as the README says, refuses a job submitted without its token.
Marked `ray` (and `slow`): `-m "not ray"` skips them."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.cli import WORKER_STOPPED, main
from cnnkit.config import TrainConfig
from cnnkit.jobs import JobManager
from cnnkit.jobs.ray_runner import WAITING_FOR_A_SLOT, RayRunner, authentication_mode
from cnnkit.tracking import run_schema
from cnnkit.training import Progress, train
from ray.job_submission import JobSubmissionClient
from ray_cluster import SLOTS, RayHead
from run_processes import ROOT, logged_epochs, running_run_with_epochs, start, wait_for

pytestmark = [pytest.mark.ray, pytest.mark.slow]

QUICK = TrainConfig(dataset="digits", epochs=1, train_limit=300, batch_size=32)
LONG = TrainConfig(dataset="digits", epochs=200, train_limit=200, batch_size=32)  # runs until stopped
# the keys of a FINISHED run's last CLI line, whichever runner trained it (cnnkit.cli.final_line)
FINISHED_LINE = {"run_id", "status", "final_loss", "final_accuracy", "final_val_loss", "final_val_accuracy", "test_loss",
                 "test_accuracy", "test_top1_accuracy", "test_top3_accuracy", "test_top5_accuracy", "epochs_trained"}
TIMES: dict[str, float] = {}  # measured seconds, printed at the end of the module (pytest -s)


@pytest.fixture(scope="session")
def ray_head():
    head = RayHead()  # this process's Jobs API clients send the token tests/conftest.py named
    try:
        head.wait_until_up()
        yield head
    finally:
        head.stop()
        for name, seconds in TIMES.items():
            print(f"ray timing: {name}: {seconds:.1f} s")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_WORKER_PYTHON", sys.executable)  # the cluster runs on this machine, in this venv
    monkeypatch.setenv("CNNKIT_HEARTBEAT_SECONDS", "1")  # forwarded to the workers: stale after 6 s without one
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def runner_knowing_its_slots(ray_head, store):
    """A runner whose first read found the cluster's slots (a head just up lists its node a moment later), else None."""
    runner = RayRunner(ray_head.address, store)
    return runner if runner.capacity() is not None else None


def status_of(store, run_id):
    return make_client(store).get_run(run_id).info.status


def test_the_runners_capacity_is_the_heads_cnnkit_slot_count(ray_head, store):
    asked = time.monotonic()
    runner = wait_for(lambda: runner_knowing_its_slots(ray_head, store), 60, "the cluster's slots")
    TIMES["capacity read"] = time.monotonic() - asked
    assert runner.capacity() == SLOTS
    manager = JobManager(tracking_uri=store, runner=runner, recover_stale_runs=False, max_concurrent=5)
    assert (manager.slots(), manager.slots_set_by_runner()) == (SLOTS, True)


def test_a_digits_run_submitted_to_ray_finishes_in_mlflow(ray_head, store):
    runner = RayRunner(ray_head.address, store)
    manager = JobManager(tracking_uri=store, runner=runner, recover_stale_runs=False)
    submitted = time.monotonic()
    job = manager.submit(QUICK, "on ray")
    run_id = manager.snapshot(job).run_id  # the run exists from the submission on
    assert run_id and status_of(store, run_id) in ("SCHEDULED", "RUNNING")
    wait_for(lambda: status_of(store, run_id) == "RUNNING", 600, "the worker to start the run")
    TIMES["submit to RUNNING (quick run)"] = time.monotonic() - submitted
    ended = manager.wait(job, 600)
    assert ended.state == "finished", ended.error
    run = make_client(store).get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "on ray"
    assert "test_accuracy" in run.data.metrics and ended.result.metrics["test_accuracy"] == run.data.metrics["test_accuracy"]
    assert [epoch["epoch"] for epoch in ended.epoch_history] == [1]  # read back from the store


def test_the_slots_hold_a_third_job_in_the_app_and_another_apps_on_ray_and_a_restarted_app_adopts_and_cancels_them(
        ray_head, store):
    runner = wait_for(lambda: runner_knowing_its_slots(ray_head, store), 60, "the cluster's slots")
    manager = JobManager(tracking_uri=store, runner=runner, recover_stale_runs=False, max_concurrent=1)
    # started before the first app's jobs are on the cluster, or it would adopt them (they log to its store)
    other_app = JobManager(tracking_uri=store, runner=RayRunner(ray_head.address, store), recover_stale_runs=False)
    jobs = [manager.submit(LONG, f"long {n}") for n in range(3)]
    assert [manager.snapshot(job).state for job in jobs] == ["running", "running", "queued"]  # the cluster's 2 slots
    assert manager.snapshot(jobs[2]).run_id is None  # the app holds it: it never reached the cluster
    jobs.append(other_app.submit(LONG, "another app's"))
    runs = [manager.snapshot(job).run_id for job in jobs[:2]]
    third = other_app.snapshot(jobs[3]).run_id
    first = wait_for(lambda: next((run for run in runs if len(logged_epochs(store, run)) >= 1), None), 600,
                     "a first epoch")
    assert status_of(store, third) == "SCHEDULED"  # two slots, both taken by the first app: Ray holds it PENDING
    assert other_app.snapshot(jobs[3]).progress.phase == WAITING_FOR_A_SLOT
    manager.cancel(jobs[2])  # dropped from the app's queue: the freed slot goes to the other app's job
    assert manager.snapshot(jobs[2]).state == "cancelled" and manager.snapshot(jobs[2]).run_id is None

    manager.shutdown(cancel_running=False, timeout=0)  # the app exits; its runner is detached: its jobs go on
    restarting = time.monotonic()
    restarted = JobManager(tracking_uri=store, runner=RayRunner(ray_head.address, store), recover_stale_runs=False)
    TIMES["restarted manager adopting 3 jobs"] = time.monotonic() - restarting
    adopted = {job.run_id: job.job_id for job in restarted.snapshots()}
    assert set(adopted) == {*runs, third}  # the other app's job too: it logs to the same store
    assert {(job.state, job.visitor) for job in restarted.snapshots()} == {("running", None)}  # the operator's

    cancelled = time.monotonic()
    restarted.cancel(adopted[first])
    ended = restarted.wait(adopted[first], 300)
    TIMES["cancel to KILLED"] = time.monotonic() - cancelled
    run = make_client(store).get_run(first)
    assert ended.state == "cancelled" and run.info.status == "KILLED"
    assert run.data.tags["cnnkit.error"] == WORKER_STOPPED
    assert logged_epochs(store, first)[:1] == [1]  # the epochs it trained are kept
    assert len(ended.epoch_history) >= 1  # read back by the adopting runner's watcher

    wait_for(lambda: status_of(store, third) == "RUNNING", 600, "the other app's job to take the freed slot")
    for job in adopted.values():
        restarted.cancel(job)
    for job in adopted.values():
        assert restarted.wait(job, 300).state == "cancelled"
    assert other_app.wait(jobs[3], 300).state == "cancelled"  # its own watcher saw its run end KILLED
    assert {status_of(store, run) for run in [*runs, third]} == {"KILLED"}


def ray_jobs_of(ray_head, run_id):
    """The Ray jobs (JobDetails) of run `run_id`, oldest first."""
    jobs = JobSubmissionClient(ray_head.address).list_jobs()
    return sorted((job for job in jobs if (job.metadata or {}).get("cnnkit_run_id") == run_id),
                  key=lambda job: job.start_time or 0)


def test_a_corruption_sweep_runs_as_a_ray_job_a_cancelled_one_logging_nothing(ray_head, store):
    trained = train(QUICK, tracking_uri=store, run_name="to sweep").run_id  # here: the sweep is what goes to the cluster
    client = make_client(store)
    manager = JobManager(tracking_uri=store, runner=RayRunner(ray_head.address, store, poll_seconds=0.2),
                         recover_stale_runs=False)
    sweeping = lambda job: (manager.snapshot(job).progress or Progress("")).phase.startswith("corruption sweep")  # noqa: E731

    job = manager.submit_corruption_sweep(trained)  # its whole test split: longer than the cancel takes to land
    assert manager.snapshot(job).run_id == trained
    wait_for(lambda: sweeping(job), 600, "the sweep's first progress, read from the worker's log")
    manager.cancel(job)  # SIGTERM: the sweep stops at its next batch
    ended = manager.wait(job, 300)
    assert ended.state == "cancelled", ended.error
    [stopped] = ray_jobs_of(ray_head, trained)  # on the cluster, not in this process's threads
    assert stopped.status.value == "STOPPED"
    last = JobSubmissionClient(ray_head.address).get_job_logs(stopped.submission_id).strip().splitlines()[-1]
    assert json.loads(last) == {"run_id": trained, "status": "KILLED", "error": WORKER_STOPPED}  # its stop request
    run = client.get_run(trained)
    assert run.info.status == "FINISHED" and run_schema.CORRUPTION_MEAN_ACCURACY not in run.data.metrics

    submitted = time.monotonic()
    job = manager.submit_corruption_sweep(trained, images=50)
    ended = manager.wait(job, 600)
    TIMES["corruption sweep of 50 images on ray"] = time.monotonic() - submitted
    assert ended.state == "finished", ended.error
    assert [job.status.value for job in ray_jobs_of(ray_head, trained)] == ["STOPPED", "SUCCEEDED"]
    metrics = client.get_run(trained).data.metrics
    assert metrics[run_schema.CORRUPTION_IMAGES] == 50
    assert ended.result.metrics[run_schema.CORRUPTION_MEAN_ACCURACY] == metrics[run_schema.CORRUPTION_MEAN_ACCURACY]
    assert "test_accuracy" not in ended.result.metrics  # the sweep's metrics alone, as the thread runner's result


def test_a_worker_killed_outright_leaves_its_run_to_the_stale_run_check_which_sees_its_process_gone(ray_head, store):
    runner = RayRunner(ray_head.address, store)
    manager = JobManager(tracking_uri=store, runner=runner, recover_stale_runs=False)
    job = manager.submit(LONG, "to be killed")
    run_id = manager.snapshot(job).run_id
    client = make_client(store)
    run_store = tracking.RunStore(store)
    wait_for(lambda: status_of(store, run_id) == "RUNNING", 600, "the worker to start the run")
    pid = int(client.get_run(run_id).data.tags["cnnkit.pid"])
    os.kill(pid, signal.SIGKILL)  # the worker dies without a word: no run end, no more heartbeats
    ended = manager.wait(job, 300)
    assert ended.state == "failed" and "stopped without ending its run" in ended.error
    assert status_of(store, run_id) == "RUNNING"
    killed = time.monotonic()
    assert run_store.kill_stale_runs() == [run_id]  # its process on this machine is gone: no heartbeat wait
    TIMES["SIGKILL to stale"] = time.monotonic() - killed
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and f"its process {pid} on " in run.data.tags["cnnkit.error"]


def test_the_cli_trains_on_ray_following_the_workers_log(ray_head, store, capsys):
    address = "ray://" + ray_head.address.removeprefix("http://")
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--set", "train_limit=300", "--runner", address,
                 "--tracking-uri", store, "--run-name", "from the cli"]) == 0
    captured = capsys.readouterr()
    last = json.loads(captured.out.strip().splitlines()[-1])
    assert last["status"] == "FINISHED" and set(last) == FINISHED_LINE  # as the thread runner's: no other metric
    assert type(last["epochs_trained"]) is int and last["epochs_trained"] == 1
    assert "epoch 1/1" in captured.err  # the worker's output, followed through tail_job_logs
    run = make_client(store).get_run(last["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "from the cli"


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_cli_stops_its_ray_job_and_exits_with_128_plus_its_number(ray_head, store, tmp_path, signum,
                                                                                     status):
    """As the thread runner's CLI (tests/jobs/test_termination.py): before, 130 for either signal."""
    address = "ray://" + ray_head.address.removeprefix("http://")
    process = start(["-m", "cnnkit", "train", "--dataset", "digits", "--epochs", "200", "--set", "train_limit=200",
                     "--set", "batch_size=32", "--runner", address, "--tracking-uri", store], store, tmp_path)
    try:
        run_id = wait_for(running_run_with_epochs(store), 600, "an epoch logged on the cluster")
        process.send_signal(signum)
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == status, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1]) == {"run_id": run_id, "status": "KILLED", "error": WORKER_STOPPED}
    assert status_of(store, run_id) == "KILLED"


def test_the_head_started_as_the_readme_says_refuses_a_job_submitted_without_its_token(ray_head):
    assert authentication_mode(ray_head.address) == "token"  # RAY_AUTH_MODE unset: on, since a token exists
    token = Path(os.environ["RAY_AUTH_TOKEN_PATH"]).read_text().strip()
    for headers, refusal in (({}, 401), ({"Authorization": "Bearer " + "0" * len(token)}, 403)):
        submission = urllib.request.Request(f"{ray_head.address}/api/jobs/", method="POST",
                                            data=json.dumps({"entrypoint": "echo anyone's command"}).encode(),
                                            headers={"Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(submission, timeout=60)
        assert refused.value.code == refusal
    listing = urllib.request.Request(f"{ray_head.address}/api/jobs/", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(listing, timeout=60) as answer:  # the token opens it
        assert answer.status == 200


def test_a_cluster_that_wants_a_token_it_was_not_given_is_one_line(ray_head, store):
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "cnnkit", "train", "--dataset", "digits", "--tracking-uri", store,
                           "--runner", "ray://" + ray_head.address.removeprefix("http://")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert f"The Ray cluster at {ray_head.address} wants a token" in done.stderr and "Traceback" not in done.stderr

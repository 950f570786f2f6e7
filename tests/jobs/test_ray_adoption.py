"""Ray jobs outlive the app, without a cluster (its Jobs API and state API stood in for, the store real):
a restarted app's runner lists the cluster's cnnkit jobs still PENDING or RUNNING with their runs,
leaving out ended jobs, other jobs and jobs whose run its store lacks; its manager adopts them as
running jobs that count against the slots, show their epochs, end as their runs end and cancel.
The same with a real head: test_ray_runner.py."""

import logging
import time
from types import SimpleNamespace

import pytest

pytest.importorskip("ray")

import ray.job_submission  # noqa: E402
import ray.util.state  # noqa: E402
from ray.job_submission import JobStatus  # noqa: E402

from cnnkit import tracking  # noqa: E402
from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking import run_schema
from cnnkit.config import TrainConfig  # noqa: E402
from cnnkit.jobs import JobManager  # noqa: E402
from cnnkit.jobs import ray_runner  # noqa: E402
from cnnkit.jobs.ray_runner import WAITING_FOR_A_SLOT, RayRunner  # noqa: E402
from cnnkit.jobs.runner import JobSpec  # noqa: E402
from cnnkit.jobs.worker import SWEEP_PROGRESS  # noqa: E402
from cnnkit.training import Progress  # noqa: E402
from run_processes import wait_for  # noqa: E402

TIMEOUT = 120  # seconds; only a broken watcher waits this long (a machine at load 8 takes seconds, not minutes)
CFG = TrainConfig(dataset="digits", epochs=3, train_limit=200)


class Cluster:
    """Stands in for JobSubmissionClient: the jobs it lists (JobDetails' fields the runner reads)."""

    def __init__(self):
        self.jobs, self.listing_error, self.stopping = {}, None, set()
        self.logs = {}  # submission id -> its worker's output so far

    def add(self, submission_id, status, run_id=None, kind="train"):
        metadata = {"cnnkit_run_id": run_id, "cnnkit_job": "job-1", "cnnkit_kind": kind} if run_id else {}
        self.jobs[submission_id] = SimpleNamespace(submission_id=submission_id, status=status, metadata=metadata,
                                                   start_time=int(time.time() * 1000))

    def list_jobs(self):
        if self.listing_error is not None:
            raise self.listing_error
        return list(self.jobs.values())

    def get_job_status(self, handle):
        return self.jobs[handle].status

    def get_job_logs(self, handle):
        return self.logs.get(handle, "")

    def stop_job(self, handle):
        """As Ray does: a job waiting for a slot is STOPPED at once; a running one's worker gets SIGTERM, and
        the job is STOPPED only once that process has ended (`worker_ended`)."""
        if self.jobs[handle].status == JobStatus.PENDING:
            self.jobs[handle].status = JobStatus.STOPPED
        else:
            self.stopping.add(handle)

    def worker_ended(self, handle):
        """The stopped job's worker has ended (after ending its run KILLED, or killed before it could)."""
        assert handle in self.stopping
        self.jobs[handle].status = JobStatus.STOPPED

    def submit_job(self, *, submission_id, metadata, **_):
        self.add(submission_id, JobStatus.PENDING, metadata["cnnkit_run_id"], metadata["cnnkit_kind"])
        return submission_id


@pytest.fixture
def cluster(monkeypatch):
    cluster = Cluster()
    monkeypatch.setattr(ray.job_submission, "JobSubmissionClient", lambda address: cluster)
    monkeypatch.setattr(ray.util.state, "list_nodes", lambda **_: [
        SimpleNamespace(state="ALIVE", resources_total={"cnnkit_slot": 2.0})])
    monkeypatch.setattr(ray_runner, "authentication_mode", lambda address: "token")  # its dashboard's answer
    return cluster


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for the module (each test lists only its own fake cluster's jobs): made once, it saves seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def training_run(client, name, epochs=1):
    """A run a worker has taken and trained `epochs` epochs of, its heartbeat saying so."""
    run_store = tracking.RunStore(client.tracking_uri)
    run_id = run_store.schedule_run(CFG, run_name=name)
    run_store.attach_run(run_id)
    for epoch in range(1, epochs + 1):
        client.log_metric(run_id, run_schema.LOSS, 1.0 / epoch, step=epoch)
    client.set_tag(run_id, run_schema.PROGRESS_TAG, Progress("training", epochs, 3, event="phase").to_json())
    return run_id


def test_the_listing_is_the_clusters_cnnkit_jobs_still_pending_or_running_whose_runs_the_store_has(
        cluster, store, caplog):
    client = make_client(store)
    run_store = tracking.RunStore(store)
    running, ended = training_run(client, "running"), training_run(client, "ended")
    waiting = run_store.schedule_run(CFG, run_name="waiting")
    cluster.add(f"cnnkit-{running}-1-100", JobStatus.RUNNING, running)
    cluster.add(f"cnnkit-{waiting}-2-100", JobStatus.PENDING, waiting)
    cluster.add(f"cnnkit-{ended}-3-100", JobStatus.SUCCEEDED, ended)
    cluster.add("raysubmit_not_ours", JobStatus.RUNNING)
    cluster.add(None, JobStatus.RUNNING)  # a driver job, not submitted: no submission id
    cluster.add("cnnkit-0f0f-4-100", JobStatus.RUNNING, "0f0f")  # another app's store holds its run
    runner = RayRunner("http://head:8265", store, poll_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="cnnkit.jobs.ray_runner"):
        listed = runner.running_jobs()
    assert [(job.handle, job.run_id, job.name, job.kind) for job in listed] == [
        (f"cnnkit-{running}-1-100", running, "running", "train"),
        (f"cnnkit-{waiting}-2-100", waiting, "waiting", "train")]
    assert listed[0].config == CFG
    assert "Not adopting Ray job cnnkit-0f0f-4-100: its run '0f0f' is not one of" in caplog.text
    runner.adopt(listed[0], lambda event: None)
    assert [job.run_id for job in runner.running_jobs()] == [waiting]  # one it watches is not listed again
    runner.cancel(listed[0].handle, "stopped")
    cluster.worker_ended(listed[0].handle)  # and its watcher ends


def test_a_cluster_that_does_not_list_its_jobs_gives_none_with_a_log_line(cluster, store, caplog):
    cluster.listing_error = ConnectionError("Failed to connect to API server.")
    with caplog.at_level(logging.WARNING, logger="cnnkit.jobs.ray_runner"):
        assert RayRunner("http://head:8265", store).running_jobs() == []
    assert "did not list its jobs: Failed to connect to API server." in caplog.text


def test_a_new_manager_adopts_the_clusters_jobs_which_count_show_end_and_cancel_as_its_own(cluster, store):
    client = make_client(store)
    run_store = tracking.RunStore(store)
    trained, finishing = training_run(client, "trained 2 epochs", epochs=2), training_run(client, "finishing")
    cluster.add(f"cnnkit-{trained}-1-100", JobStatus.RUNNING, trained)
    cluster.add(f"cnnkit-{finishing}-2-100", JobStatus.RUNNING, finishing)
    manager = JobManager(tracking_uri=store, runner=RayRunner("http://head:8265", store, poll_seconds=0.05),
                         recover_stale_runs=False)
    try:
        adopted = {job.run_id: job.job_id for job in manager.snapshots()}
        assert set(adopted) == {trained, finishing}
        assert {job.state for job in manager.snapshots()} == {"running"} and manager.slots() == 2
        queued = manager.submit(CFG, "after the restart")
        assert manager.snapshot(queued).state == "queued"  # the adopted jobs hold both slots

        manager.cancel(adopted[trained])
        assert cluster.stopping == {f"cnnkit-{trained}-1-100"}
        run_store.logger(trained).finish("KILLED", "stopped")  # what the worker does on SIGTERM
        cluster.worker_ended(f"cnnkit-{trained}-1-100")
        ended = manager.wait(adopted[trained], TIMEOUT)
        assert ended.state == "cancelled" and ended.result.status == "KILLED"
        assert [epoch["epoch"] for epoch in ended.epoch_history] == [1, 2]  # read back from the store
        assert manager.snapshot(queued).state == "running"  # its slot went to the queued job
        waiting = manager.snapshot(queued)
        assert run_store.run_status(waiting.run_id) == "SCHEDULED"

        run_store.logger(finishing).finish("FINISHED")
        cluster.jobs[f"cnnkit-{finishing}-2-100"].status = JobStatus.SUCCEEDED
        assert manager.wait(adopted[finishing], TIMEOUT).state == "finished"
    finally:
        manager.shutdown(timeout=TIMEOUT)
    assert run_store.run_status(waiting.run_id) == "KILLED"  # cancelled while Ray held it PENDING


def test_an_adopted_job_ray_holds_pending_is_waiting_for_a_slot_and_cancels_to_a_killed_run(cluster, store):
    run_store = tracking.RunStore(store)
    waiting = run_store.schedule_run(CFG, run_name="waiting")
    cluster.add(f"cnnkit-{waiting}-1-100", JobStatus.PENDING, waiting)
    manager = JobManager(tracking_uri=store, runner=RayRunner("http://head:8265", store, poll_seconds=0.05),
                         recover_stale_runs=False)
    [job] = manager.snapshots()
    progress = wait_for(lambda: manager.snapshot(job.job_id).progress, TIMEOUT, "the watcher's first report")
    assert progress.phase == WAITING_FOR_A_SLOT and job.state == "running"
    manager.cancel(job.job_id)
    assert manager.wait(job.job_id, TIMEOUT).state == "cancelled"
    assert run_store.run_status(waiting) == "KILLED"


def test_a_job_cancelled_while_waiting_ends_killed_even_when_its_watcher_sees_it_stopped_first(cluster, store):
    """Ray stops the job at once; the watcher may then find it ended with its run still SCHEDULED before
    `cancel` has ended that run: it is the cancel's KILLED, not a worker that never started."""
    run_store = tracking.RunStore(store)
    waiting = run_store.schedule_run(CFG, run_name="waiting")
    cluster.add(f"cnnkit-{waiting}-1-100", JobStatus.PENDING, waiting)
    runner = RayRunner("http://head:8265", store, poll_seconds=0.01)
    [listed] = runner.running_jobs()
    events = []
    runner.adopt(listed, events.append)
    stop = cluster.stop_job

    def slow_stop(handle):  # Ray answers only after the watcher has seen the job STOPPED
        stop(handle)
        wait_for(lambda: runner._jobs[handle].ray_status == "STOPPED", TIMEOUT, "the watcher to see the job stopped")

    cluster.stop_job = slow_stop
    runner.cancel(listed.handle, "stopped by a person")
    ended = wait_for(lambda: next((event for event in events if type(event).__name__ == "JobEnded"), None), TIMEOUT,
                     "the job's end")
    assert (ended.state, ended.error) == ("cancelled", None)
    assert run_store.run_status(waiting) == "KILLED"


def test_a_cancelled_job_whose_run_is_still_running_when_ray_says_it_stopped_ends_killed_with_the_cancels_reason(
        cluster, store):
    """The watcher sees the job STOPPED and its run RUNNING: the worker was killed before it ended its run
    (RAY_JOB_STOP_WAIT_TIME_S ran out), or the watcher read the run before the worker's KILLED landed. It is
    the cancel's KILLED, not a worker that stopped without ending its run (FAILED)."""
    client = make_client(store)
    trained = training_run(client, "trained 1 epoch")
    handle = f"cnnkit-{trained}-1-100"
    cluster.add(handle, JobStatus.RUNNING, trained)
    runner = RayRunner("http://head:8265", store, poll_seconds=0.01)
    [listed] = runner.running_jobs()
    events = []
    runner.adopt(listed, events.append)
    runner.cancel(handle, "stopped by a person")
    cluster.worker_ended(handle)  # with its run left RUNNING
    ended = wait_for(lambda: next((event for event in events if type(event).__name__ == "JobEnded"), None), TIMEOUT,
                     "the job's end")
    assert (ended.state, ended.error) == ("cancelled", None) and ended.result.status == "KILLED"
    run = client.get_run(trained)
    assert (run.info.status, run.data.tags["cnnkit.error"]) == ("KILLED", "stopped by a person")
    assert [event.progress.epoch for event in events if getattr(event, "progress", None)
            and event.progress.event == "epoch"] == [1]  # its epoch passed on before the end


def test_an_adopted_sweep_shows_as_a_sweep_not_a_training(cluster, store):
    """After an app restart the corruption panel finds a sweep still running on the cluster by its job's kind."""
    client = make_client(store)
    swept, trained = training_run(client, "swept"), training_run(client, "training")
    tracking.RunStore(store).logger(swept).finish("FINISHED")
    cluster.add(f"cnnkit-{swept}-1-100", JobStatus.RUNNING, swept, kind="corruptions")
    cluster.add(f"cnnkit-{trained}-2-100", JobStatus.RUNNING, trained)
    manager = JobManager(tracking_uri=store, runner=RayRunner("http://head:8265", store, poll_seconds=0.05),
                         recover_stale_runs=False)
    try:
        assert {job.run_id: job.kind for job in manager.snapshots()} == {swept: "corruptions", trained: "train"}
    finally:
        manager.shutdown(timeout=TIMEOUT)


def test_a_sweeps_job_shows_the_progress_its_worker_prints_and_ends_as_ray_says_its_run_staying_finished(
        cluster, store):
    """Its run ended FINISHED when it trained: the sweep's progress and end come from its log and Ray's status."""
    client = make_client(store)
    run_id = training_run(client, "swept")
    tracking.RunStore(store).logger(run_id).finish("FINISHED")
    runner = RayRunner("http://head:8265", store, poll_seconds=0.05)
    events = []
    handle = runner.submit(JobSpec("job-1", "corruptions", CFG, "sweep", store, "cnnkit", run_id, images=50),
                           events.append)
    assert handle.startswith(f"cnnkit-{run_id}-")  # the run's own job, no new run scheduled
    sweeping = Progress("corruption sweep: clean images", 1, 1, 1, 66, event="pass")
    cluster.logs[handle] = f"a library's warning\n{SWEEP_PROGRESS}{sweeping.to_json()}\n"
    cluster.jobs[handle].status = JobStatus.RUNNING
    wait_for(lambda: runner.progress(handle) == sweeping, TIMEOUT, "the progress the worker printed")
    cluster.logs[handle] += '{"run_id": "%s", "status": "FAILED", "error": "Run %s has no model."}\n' % (run_id, run_id)
    cluster.jobs[handle].status = JobStatus.FAILED
    ended = wait_for(lambda: next((event for event in events if type(event).__name__ == "JobEnded"), None), TIMEOUT,
                     "the job's end")
    assert (ended.state, ended.error) == ("failed", f"Run {run_id} has no model.")
    assert [event.run_id for event in events if type(event).__name__ == "RunCreated"] == [run_id]  # no new run
    assert tracking.RunStore(store).run_status(run_id) == "FINISHED"
    assert not any(getattr(event, "progress", None) and event.progress.phase == "training" for event in events)

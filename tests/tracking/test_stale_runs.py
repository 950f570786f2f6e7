"""Runs whose worker is gone are ended KILLED (cnnkit.tracking.stale_runs); runs alive, scheduled or
without a heartbeat are left alone."""

import re
import socket
import subprocess
import sys
import time

from cnnkit.config import TrainConfig
from cnnkit.tracking import worker_process


def test_kill_stale_runs_ends_the_running_runs_whose_heartbeat_stopped_wherever_they_ran(run_store, client):
    began = time.time()
    silent = {"cnnkit.heartbeat": f"{began - 120:.1f}", "cnnkit.host": "another-machine"}
    stale = run_store.start_run(TrainConfig(), tags=silent).run_id
    in_other_experiment = run_store.start_run(TrainConfig(), experiment="elsewhere", tags=silent).run_id
    beating = run_store.start_run(TrainConfig()).run_id  # its heartbeat is from now
    untagged = client.create_run(run_store.experiment_id()).info.run_id
    scheduled = run_store.schedule_run(TrainConfig())
    client.set_tag(scheduled, "cnnkit.heartbeat", f"{time.time() - 120:.1f}")

    assert sorted(run_store.kill_stale_runs(stale_after_s=60)) == sorted([stale, in_other_experiment])

    run = client.get_run(stale)
    assert run.info.status == "KILLED" and run.info.end_time
    said = re.fullmatch(r"The worker training this run stopped before it finished: no heartbeat for (\d+) s\.",
                        run.data.tags["cnnkit.error"])
    assert said and 119 <= int(said[1]) <= 121 + time.time() - began  # the age when it was found (slow at load)
    for run_id in (beating, untagged):
        assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_run(scheduled).info.status == "SCHEDULED"  # waits for a worker, not stale
    assert run_store.kill_stale_runs(stale_after_s=60) == []


def test_a_running_run_whose_process_on_this_machine_is_gone_is_stale_at_once_however_fresh_its_heartbeat(run_store, client):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        started = worker_process.start_time(other.pid)

        def run_of(host, pid, pid_started=None, namespace=None):
            tags = {"cnnkit.host": host, "cnnkit.pid": str(pid)}  # the heartbeat is from now
            tags.update({key: value for key, value in (("cnnkit.pid_started", pid_started),
                                                        ("cnnkit.pid_namespace", namespace)) if value})
            return run_store.start_run(TrainConfig(), tags=tags).run_id

        dead = run_of(socket.gethostname(), ended.pid)
        alive = run_of(socket.gethostname(), other.pid, started)
        elsewhere = run_of("another-machine", ended.pid)
        in_a_container = run_of(socket.gethostname(), ended.pid, namespace="pid:[1]")  # named like this machine
        reused = run_of(socket.gethostname(), other.pid, str(int(started) - 1)) if started else None

        assert sorted(run_store.kill_stale_runs()) == sorted(filter(None, [dead, reused]))
    finally:
        other.kill()
        other.wait()
    assert client.get_run(dead).data.tags["cnnkit.error"] == (
        f"The worker training this run stopped before it finished: its process {ended.pid} on "
        f"{socket.gethostname()} is gone.")
    for run_id in (alive, elsewhere, in_a_container):
        assert client.get_run(run_id).info.status == "RUNNING"

"""Whether the process a run names (host, pid, pid namespace, the pid's start time) is gone: a process
that ended, or whose pid now names another process, is; one of another machine or container can't be
told and is not."""

import os
import socket
import subprocess
import sys

import pytest

from cnnkit.tracking import run_schema, worker_process
from run_processes import wait_for

HOST = socket.gethostname()
ON_LINUX = os.path.exists(f"/proc/{os.getpid()}/stat")


@pytest.fixture
def sleeper():
    """Another live process of this machine."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def test_a_process_that_ended_is_gone_on_this_machine_and_in_this_container_only():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # ended and collected: no such pid any more
    assert worker_process.gone(HOST, process.pid)
    assert not worker_process.gone("another-machine", process.pid)  # can't be told from here
    ours = worker_process.this_process().get(run_schema.PID_NAMESPACE_TAG)
    assert worker_process.gone(HOST, process.pid, namespace=ours)
    if ON_LINUX:
        assert ours.startswith("pid:[")
        assert not worker_process.gone(HOST, process.pid, namespace="pid:[1]")  # a container named like the host


def test_a_live_process_is_not_gone_and_a_reused_pid_is(sleeper):
    assert not worker_process.gone(HOST, sleeper.pid)
    assert not worker_process.gone(HOST, os.getpid(), worker_process.start_time(os.getpid()))
    if ON_LINUX:
        started = worker_process.start_time(sleeper.pid)
        assert started is not None and started.isdigit()
        assert not worker_process.gone(HOST, sleeper.pid, started)
        assert worker_process.gone(HOST, sleeper.pid, str(int(started) - 1))  # the pid names a later process now
    assert not worker_process.gone("another-machine", sleeper.pid, "1")


@pytest.mark.skipif(not ON_LINUX, reason="zombies are read from /proc")
def test_a_process_that_ended_but_was_not_collected_yet_is_gone():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        assert wait_for(lambda: worker_process.gone(HOST, process.pid), 60, "the process to end")
    finally:
        process.wait()


def test_a_runs_tags_name_this_process_and_runs_without_them_name_none():
    tags = worker_process.this_process()
    assert (tags[run_schema.HOST_TAG], tags[run_schema.PID_TAG]) == (HOST, str(os.getpid()))
    assert tags.get(run_schema.PID_STARTED_TAG) == worker_process.start_time(os.getpid())
    assert not worker_process.gone_from_tags(tags)
    assert not worker_process.gone_from_tags({})
    assert not worker_process.gone_from_tags({run_schema.HOST_TAG: HOST, run_schema.PID_TAG: "not a pid"})

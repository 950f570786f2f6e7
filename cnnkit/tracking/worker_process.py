"""Which process trains a run (its machine, pid, pid namespace and the pid's start time, kept in the
run's tags) and whether that process is gone: on the machine (and in the container) that ran it, a run
whose process ended, or whose pid now names another process, is stale at once, without waiting for its
heartbeat to age."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from cnnkit.tracking.run_schema import HOST_TAG, PID_NAMESPACE_TAG, PID_STARTED_TAG, PID_TAG


def this_process() -> dict[str, str]:
    """The tags naming this process: host, pid, and where the system tells them its pid namespace and
    start time."""
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    for key, value in ((PID_NAMESPACE_TAG, _pid_namespace()), (PID_STARTED_TAG, start_time(os.getpid()))):
        if value is not None:
            tags[key] = value
    return tags


def gone(host: str, pid: int, started: str | None = None, namespace: str | None = None) -> bool:
    """Whether process `pid` of machine `host` has surely ended: it no longer exists, or `pid` now names
    a process that started at another time than `started` (the pid was reused). Only this machine's
    processes in this pid `namespace` can be told (a container sharing the host's name has its own pids)."""
    if host != socket.gethostname() or (namespace is not None and namespace != _pid_namespace()):
        return False
    if not _alive(pid):
        return True
    now = start_time(pid) if started else None
    return now is not None and now != started


def gone_from_tags(tags: dict[str, str]) -> bool:
    """`gone` for the process a run's tags name (`this_process`); False when they name none."""
    try:
        pid = int(tags[PID_TAG])
        host = tags[HOST_TAG]
    except (KeyError, ValueError):
        return False
    return gone(host, pid, tags.get(PID_STARTED_TAG), tags.get(PID_NAMESPACE_TAG))


def start_time(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since the machine booted (Linux's /proc); None where
    that can't be read (another system, or no such process)."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else None  # field 22, starttime (fields[0] is field 3)


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses);
    none where there is no such file."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    return text[text.rfind(")") + 2:].split()


def _pid_namespace() -> str | None:
    """This process's pid namespace, e.g. "pid:[4026531836]" (Linux); None where there is no such thing."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _alive(pid: int) -> bool:
    """False only when no process `pid` surely exists or it has ended and is a zombie. Pids <= 0 name
    process groups, and on Windows os.kill would terminate the process, so those count as alive unchecked."""
    if pid <= 0 or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)  # signal 0: checks existence and permission, delivers nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return _stat(pid)[:1] != ["Z"]  # a zombie has ended; only its parent has not collected it yet

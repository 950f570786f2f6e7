"""Stopping a process's training jobs cleanly when the process is asked to end.

`docker stop`, systemd and `kill` send SIGTERM, Ctrl-C sends SIGINT; without this the process
ends with its runs left RUNNING. Registered job owners (`watch`) are told to stop their jobs
when either signal arrives (the handler, installed once, then calls the handler it replaced),
and are waited for when the interpreter exits. A process that doesn't start in this thread
(Streamlit's server runs the app's code in other threads, and only the main thread may install
signal handlers) keeps its own handlers; Streamlit's end the server, and the exit hook then
stops the jobs.
"""

from __future__ import annotations

import atexit
import signal
import threading
import weakref
from typing import Protocol

SIGNAL_REASONS = {
    signal.SIGTERM: "Stopped: the process got SIGTERM (docker stop, systemd or kill).",
    signal.SIGINT: "Stopped: the process got SIGINT (Ctrl-C).",
}
EXIT_REASON = "Stopped: the process was shutting down."


class JobOwner(Protocol):
    def stop_all(self, reason: str, wait: bool) -> None:
        """Ask every job to stop with `reason` as its note; with `wait`, until they have ended."""


_owners: weakref.WeakSet = weakref.WeakSet()
_installed = False
_install_lock = threading.Lock()


def watch(owner: JobOwner) -> None:
    """Stop `owner`'s jobs when the process gets SIGTERM or SIGINT, or exits."""
    global _installed
    _owners.add(owner)
    with _install_lock:
        if _installed:
            return
        _installed = True
        atexit.register(_stop_all, EXIT_REASON, True)
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNAL_REASONS:
                signal.signal(signum, _handler(signal.getsignal(signum)))


def _stop_all(reason: str, wait: bool) -> None:
    for owner in list(_owners):
        owner.stop_all(reason, wait)


def _handler(previous):
    """A handler that asks the jobs to stop, then does what `previous` did: calls it, or for the
    default action exits the way Python ends on that signal (the exit hook waits for the jobs)."""

    def on_signal(signum, frame):
        # From another thread: the signal may have interrupted this one inside an owner's lock.
        threading.Thread(target=_stop_all, args=(SIGNAL_REASONS[signum], False), name="cnnkit stop jobs").start()
        if callable(previous):
            previous(signum, frame)
        elif previous in (signal.SIG_DFL, None):
            raise SystemExit(128 + signum)

    return on_signal

"""Which runner the app and the CLI send training jobs to: CNNKIT_RUNNER or `--runner`, either
`threads` (this process, the default) or `ray://host:8265` (a Ray cluster's Jobs API)."""

from __future__ import annotations

import os

from cnnkit.errors import InputError
from cnnkit.jobs.runner import Runner

RUNNER_VARIABLE = "CNNKIT_RUNNER"
THREADS = "threads"
RAY_SCHEME = "ray://"


def runner_setting(given: str | None = None) -> str:
    """The runner the app and CLI use: `given` (the CLI's --runner), else CNNKIT_RUNNER, else threads."""
    text = (given or os.environ.get(RUNNER_VARIABLE, "") or THREADS).strip()
    if text != THREADS and not (text.startswith(RAY_SCHEME) and len(text) > len(RAY_SCHEME)):
        raise InputError(f"Runner: {text!r} is neither 'threads' nor a Ray cluster address like ray://127.0.0.1:8265.")
    return text


def make_remote_runner(setting: str, tracking_uri: str | None) -> Runner | None:
    """The runner `setting` (see `runner_setting`) names, or None for this process's threads (the manager makes those)."""
    if setting == THREADS:
        return None
    from cnnkit.jobs.ray_runner import RayRunner  # Ray is an optional install

    return RayRunner("http://" + setting[len(RAY_SCHEME):], tracking_uri)

"""A run's life in the store: created with its config and provenance (or scheduled for a worker
elsewhere, then attached to by that worker), reopened when resumed, read back (status, latest
state, logged steps, config) and ended; each write through a `RunLogger`."""

from __future__ import annotations

import functools
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnkit import full_disk
from cnnkit.config import TrainConfig, relabels_csv, relabels_of_file_text
from cnnkit.errors import InputError
import cnnkit.tracking.provenance as provenance
import cnnkit.tracking.worker_process as worker_process
from cnnkit.tracking._store_client import as_input_error
from cnnkit.tracking.heartbeat import beat_tags
from cnnkit.tracking.logger import RunLogger
from cnnkit.tracking.patience import Patience
from cnnkit.tracking.permissions import LaunchPermissions, refusal_as_store_error
from cnnkit.tracking.run_schema import (
    ERROR_TAG, EXCLUDED_EXAMPLES, RELABEL_EXAMPLES, GIT_COMMIT_TAG, KERAS_BACKEND_TAG, KERAS_VERSION_TAG, VERSION_TAG,
)
from cnnkit.tracking.store_address import DEFAULT_EXPERIMENT, store_place


@dataclass(frozen=True)
class RunState:
    status: str
    tags: dict[str, str]
    metrics: dict[str, float]  # each metric's latest value


class RunLifecycle(LaunchPermissions):
    """Starting, attaching to, reopening, reading back and ending runs."""

    def start_run(self, config: TrainConfig, experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None,
                  tags: dict[str, str] | None = None, stop: threading.Event | None = None) -> RunLogger:
        """Create a run holding the config as params and provenance as tags. A busy store is waited
        for (see `Patience`; `stop` set ends the wait); StoreUnavailable when it stays away."""
        import keras

        from cnnkit import __version__

        patience = Patience(stop=stop)  # a busy store delays the run's start too, up to the same limit
        with refusal_as_store_error(self.tracking_uri, experiment), full_disk.named(store_place(self.tracking_uri)):
            in_experiment = patience.call(lambda: self.experiment_id(experiment))
            run = patience.call(lambda: self._client.create_run(
                in_experiment,
                run_name=run_name or f"{config.arch} on {config.dataset}",
                tags={
                    VERSION_TAG: __version__,
                    GIT_COMMIT_TAG: git_commit(),
                    **provenance.mlflow_tags(git_commit()),
                    KERAS_BACKEND_TAG: keras.backend.backend(),
                    KERAS_VERSION_TAG: keras.__version__,
                    **_worker_tags(),
                    **(tags or {}),
                },
            ))
        logger = RunLogger(self, run.info.run_id, patience=patience)
        if config.exclude_examples:  # before the params: a run whose param names them always has their list
            logger.log_text("".join(f"{example_id}\n" for example_id in config.exclude_examples), EXCLUDED_EXAMPLES)
        if config.relabel_examples:  # likewise
            logger.log_text(relabels_csv(config.relabel_examples), RELABEL_EXAMPLES)
        logger.log_params(config.to_params())
        return logger

    def schedule_run(self, config: TrainConfig, experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None,
                     tags: dict[str, str] | None = None) -> str:
        """Create a run for a worker elsewhere to train (`attach_run`), SCHEDULED until it starts (so no
        stale-run check takes a queued job's run for a dead one); its id."""
        logger = self.start_run(config, experiment, run_name, tags)
        logger.patience.call(lambda: self._client.update_run(logger.run_id, status="SCHEDULED"))
        return logger.run_id

    def attach_run(self, run_id: str) -> RunLogger:
        """Start training a SCHEDULED run in this process: RUNNING, its worker tags naming this process.
        InputError when it is not waiting for a worker (cancelled meanwhile, or taken by another)."""
        import keras

        status = self.run_status(run_id)
        if status != "SCHEDULED":
            raise InputError(f"Run {run_id} is {status}, not waiting for a worker.")
        logger = RunLogger(self, run_id)
        logger.set_tags({**_worker_tags(), KERAS_BACKEND_TAG: keras.backend.backend()})
        self._client.update_run(run_id, status="RUNNING")  # after the tags: a RUNNING run never names a process gone
        return logger

    def reopen_run(self, run_id: str, tags: dict[str, Any]) -> RunLogger:
        """Mark an ended run RUNNING again, trained by this process from now on (a resumed run), with a
        fresh heartbeat so `kill_stale_runs` leaves it alone; the note of how it ended last time goes."""
        logger = RunLogger(self, run_id)
        with as_input_error():
            logger.set_tags({**_worker_tags(), **tags})  # first: RUNNING with the killed process's tags would be stale
            self._client.update_run(run_id, status="RUNNING")
        if ERROR_TAG in self._client.get_run(run_id).data.tags:
            self._client.delete_tag(run_id, ERROR_TAG)
        return logger

    def logger(self, run_id: str) -> RunLogger:
        """A writer to run `run_id` as it is, such as one to end it (`RunLogger.finish`)."""
        return RunLogger(self, run_id)

    def end_scheduled_run(self, run_id: str, status: str, note: str) -> bool:
        """End the run as `status` with `note` if no worker has taken it yet (still SCHEDULED); whether it did."""
        if self.run_status(run_id) != "SCHEDULED":
            return False
        self.logger(run_id).finish(status, note)
        return True

    def run_status(self, run_id: str) -> str:
        """RUNNING, FINISHED, FAILED or KILLED; InputError for a run that is not in the store."""
        with as_input_error():
            return self._client.get_run(run_id).info.status

    def run_state(self, run_id: str) -> RunState:
        """The run's status, tags and latest metrics, in one request: what a runner watching a worker
        elsewhere reads."""
        run = Patience().call(lambda: self._client.get_run(run_id))
        return RunState(run.info.status, run.data.tags, run.data.metrics)

    def logged_steps(self, run_id: str, key: str) -> list[int]:
        """The steps at which the run logged metric `key`, in the order the store gives them."""
        return [metric.step for metric in self._client.get_metric_history(run_id, key)]

    def last_logged_step(self, run_id: str, key: str) -> int:
        """The highest step at which the run logged metric `key` (0 when never)."""
        return max(self.logged_steps(run_id, key), default=0)

    def config_of_run(self, run_id: str) -> TrainConfig:
        """The config a run was launched with, ready to edit and relaunch."""
        with as_input_error():
            run = self._client.get_run(run_id)
        return config_of(self._client, run)


# the list settings a run records as an artifact: (artifact, what its text reads as, what the run did)
_LISTS = {"exclude_examples": (EXCLUDED_EXAMPLES, str.splitlines, "excluded"),
          "relabel_examples": (RELABEL_EXAMPLES, relabels_of_file_text, "relabelled")}


def config_of(client, run) -> TrainConfig:
    """`run`'s config from its params and, when it excluded or relabelled examples, their lines from its
    EXCLUDED_EXAMPLES or RELABEL_EXAMPLES (which must match the param's count and digest)."""
    params, lines = run.data.params, {}
    with tempfile.TemporaryDirectory() as folder:
        for setting, (artifact, read, done) in _LISTS.items():
            if not params.get(setting):
                continue
            try:
                text = Path(client.download_artifacts(run.info.run_id, artifact, folder)).read_text(encoding="utf-8")
            except Exception:  # MLflow raises several types for a missing artifact
                raise InputError(f"Run {run.info.run_id} {done} {params[setting]}, but its list of their ids "
                                 f"({artifact}) is missing.", field=setting) from None
            lines[setting] = read(text)
    return TrainConfig.from_params(params, excluded=lines.get("exclude_examples"),
                                   relabelled=lines.get("relabel_examples"))


def _worker_tags() -> dict[str, str]:
    """Who trains the run (host and pid, for people) and its first heartbeat (for `kill_stale_runs`)."""
    return {**worker_process.this_process(), **beat_tags()}


@functools.cache
def git_commit() -> str:
    """The commit of the cnnkit checkout, with '-dirty' when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit

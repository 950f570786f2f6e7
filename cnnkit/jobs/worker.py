"""What `python -m cnnkit worker JOB_JSON` does around training, on whatever machine it runs: read
its job (a runner's `JobSpec`, as JSON text or a file), check its dataset path against the policy of
the app that submitted it, and fetch the run's uploaded dataset from
the store when the path the app saved it under is not on this machine. A corruption sweep's job
(`sweep`) reports its progress as lines of its log, which the runner reads back (`read_sweep_log`):
its run, FINISHED long before, has no state of the sweep's to watch."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from cnnkit import tracking, training
from cnnkit.datasets import name_file
from cnnkit.errors import InputError
from cnnkit.jobs.runner import JobSpec
from cnnkit.training import Progress, RunResult

SWEEP_PROGRESS = "cnnkit sweep progress: "  # a sweep worker's progress line on stderr: this, then the Progress as JSON
SWEEP_PRINT_SECONDS = 0.5  # at most one line of a sweep's batches this often: its log, read whole on every poll, stays small


def read_job(text: str) -> JobSpec:
    """The job from its JSON text, or from the file it names, once its dataset path is one the
    submitter's `server_paths` allow (InputError naming "Path on this machine" when not)."""
    spec = JobSpec.from_json(text if text.lstrip().startswith("{") else Path(text).read_text())
    spec.server_paths.confine(spec.config)
    return spec


def with_local_data(spec: JobSpec, folder: Path) -> JobSpec:
    """`spec` reading its uploaded file from `folder` when its dataset path is missing here and the run
    holds a copy (`RunStore.log_uploaded_dataset`); else `spec` as it is."""
    path = spec.config.dataset_path
    if not path or not spec.run_id or Path(path).exists():
        return spec
    store = tracking.RunStore(spec.tracking_uri)
    fetched = store.fetch_uploaded_dataset(spec.run_id, Path(path).name, folder)
    if fetched is None:
        return spec  # loading then says the path is missing, naming it
    store.fetch_uploaded_dataset(spec.run_id, name_file(fetched).name, folder)  # for messages, if kept
    return dataclasses.replace(spec, config=spec.config.replace(dataset_path=str(fetched)))


class SweepProgressPrinter:
    """A sweep's reports as SWEEP_PROGRESS lines on stderr: every phase, its batches SWEEP_PRINT_SECONDS apart."""

    def __init__(self):
        self.last = None

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.event == "pass" and self.last is not None and now - self.last < SWEEP_PRINT_SECONDS:
            return
        self.last = now
        print(SWEEP_PROGRESS + progress.to_json(), file=sys.stderr, flush=True)


def sweep(spec: JobSpec, cancel: training.StopRequest) -> RunResult:
    """Sweep the job's run (`training.sweep_run`), each report a SWEEP_PROGRESS line: FINISHED with the
    sweep's metrics once it logged them; KILLED when `cancel` stopped it (nothing logged), FAILED
    with its one line when the run can't be swept (the run itself stays FINISHED either way)."""
    try:
        return training.sweep_run(spec.run_id, spec.tracking_uri, images=spec.images, cancel=cancel,
                                  on_progress=SweepProgressPrinter())
    except training.Cancelled:
        return RunResult(spec.run_id, "KILLED", {}, cancel.reason)
    except InputError as error:
        return RunResult(spec.run_id, "FAILED", {}, str(error))


def read_sweep_log(log: str) -> tuple[Progress | None, str | None]:
    """A sweep worker's latest progress in its `log` (stdout and stderr), and the error its last JSON line
    (cli's `final_line`) names, each None when the log has none yet."""
    lines = log.splitlines()
    progress = next((Progress.from_json(line[len(SWEEP_PROGRESS):]) for line in reversed(lines)
                     if line.startswith(SWEEP_PROGRESS)), None)
    last = lines[-1] if lines else ""
    try:
        ended = json.loads(last) if last.startswith("{") else {}
    except ValueError:
        ended = {}
    return progress, ended.get("error") if isinstance(ended, dict) else None

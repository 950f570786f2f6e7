"""What `python -m cnnkit worker JOB_JSON` does before training, on whatever machine it runs: read
its job (a runner's `JobSpec`, as JSON text or a file), check its dataset path against the policy of
the app that submitted it, and fetch the run's uploaded dataset from
the store when the path the app saved it under is not on this machine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cnnkit import tracking
from cnnkit.datasets import name_file
from cnnkit.jobs.runner import JobSpec


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

"""The runs table: the runs of an experiment as rows (one search, no per-run queries), a page at
a time with a filter, or by id; and one run as a page shows it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
from mlflow.entities import Run, ViewType
from mlflow.exceptions import MlflowException

from cnnkit.config import describe_tricks
from cnnkit.errors import InputError, one_line
from cnnkit.tracking._store_client import StoreClient, duration_s, gc_paused, one_of_ids
from cnnkit.tracking.dataset_inputs import evaluated_images, training_digest
from cnnkit.tracking.run_schema import (
    CORRUPTION_MEAN_ACCURACY, RESERVED_TAG_PREFIXES, TEST_ACCURACY, TIME_TO_METRICS, VAL_ACCURACY,
)
from cnnkit.tracking.store_address import DEFAULT_EXPERIMENT

# The results right after the name, where a wide table still shows them: the accuracies, then how long
# training took to reach each validation accuracy of `run_schema.VAL_ACCURACY_THRESHOLDS` (nan: never); after the
# status, the mean corruption accuracy of the run's corruption sweep (nan: none).
# `test_images`: how many test images the run was evaluated on (<NA>: logged before runs recorded it).
RUN_COLUMNS = ("run_id", "name", TEST_ACCURACY, VAL_ACCURACY, *TIME_TO_METRICS, "status", CORRUPTION_MEAN_ACCURACY,
               "dataset", "arch", "tricks", "epochs", "duration_s", "start_time", "tags", "test_images")
UNKNOWN = "—"  # a settings column of a run another tool wrote
CNNKIT_PARAMS = {"dataset", "arch"}  # every run cnnkit wrote has them, since its first version


@dataclass(frozen=True)
class RunSummary:
    """One run as a page shows it."""

    run_id: str
    name: str
    status: str  # RUNNING, FINISHED, FAILED or KILLED
    params: dict[str, str]
    metrics: dict[str, float]  # each metric's latest value
    tags: dict[str, str]
    started: datetime | None = None  # UTC; None when the store has no start time
    data_digest: str | None = None  # the MLflow digest of the data it trained on; None: logged without one
    test_images: int | None = None  # how many test images it was evaluated on; None: logged without dataset inputs


@dataclass(frozen=True)
class RunsPage:
    """One page of the runs table, filtered and paged by the store: `runs` (columns in
    `RUN_COLUMNS`, newest first), `next_token` for the page after it (None on the last page),
    and whether runs follow. The total is not counted: that would read every matching run."""

    runs: pd.DataFrame
    next_token: str | None
    more: bool


class RunsTable(StoreClient):
    """Runs as table rows, and one run as a page shows it."""

    def run(self, run_id: str) -> RunSummary:
        """InputError for a run that is not in the store."""
        found = self._runs([run_id])[0]
        started = found.info.start_time
        return RunSummary(run_id, found.info.run_name, found.info.status, dict(found.data.params),
                          dict(found.data.metrics), dict(found.data.tags),
                          datetime.fromtimestamp(started / 1000, timezone.utc) if started else None,
                          training_digest(found), evaluated_images(found))

    def runs_frame(self, experiment: str = DEFAULT_EXPERIMENT, max_results: int = 5000) -> pd.DataFrame:
        """One row per run of `experiment` (deleted runs left out), newest first, with the
        columns in `RUN_COLUMNS`. One paged search, no per-run queries: the latest metric values,
        params and tags all come with it."""
        found = self._client.get_experiment_by_name(experiment)
        if found is None or found.lifecycle_stage == "deleted":
            return pd.DataFrame(columns=list(RUN_COLUMNS))
        with gc_paused():
            runs = self._search_runs([found.experiment_id], max_results=max_results)
        return _frame_of_runs(runs)

    def runs_page(self, filter_string: str = "", page_size: int = 50, page_token: str | None = None,
                  experiment: str = DEFAULT_EXPERIMENT) -> RunsPage:
        """The `page_size` newest runs of `experiment` that match MLflow's `filter_string` (see
        `run_search`), from `page_token` on; deleted runs left out. InputError for a filter MLflow
        refuses."""
        found = self._client.get_experiment_by_name(experiment)
        if found is None or found.lifecycle_stage == "deleted":
            return RunsPage(pd.DataFrame(columns=list(RUN_COLUMNS)), None, False)

        def search(size: int, token: str | None):
            try:
                with gc_paused():
                    return self._client.search_runs([found.experiment_id], filter_string, ViewType.ACTIVE_ONLY, size,
                                                    ["attributes.start_time DESC"], token)
            except MlflowException as error:
                if error.error_code != "INVALID_PARAMETER_VALUE":
                    raise
                raise InputError(f"The store can't filter the runs this way: {one_line(error)}") from None

        page = search(page_size, page_token)
        more = bool(page.token) and bool(search(1, page.token))  # a full last page still gets a token
        return RunsPage(_frame_of_runs(page), page.token if more else None, more)

    def runs_by_id(self, run_ids: list[str], experiment: str = DEFAULT_EXPERIMENT) -> pd.DataFrame:
        """The runs of `experiment` among `run_ids` that are still there (not deleted), as in
        `runs_frame`, newest first, in one search."""
        found = self._client.get_experiment_by_name(experiment)
        wanted = [run_id for run_id in dict.fromkeys(run_ids) if run_id.isalnum()]
        if found is None or found.lifecycle_stage == "deleted" or not wanted:
            return pd.DataFrame(columns=list(RUN_COLUMNS))
        with gc_paused():
            return _frame_of_runs(self._search_runs([found.experiment_id], one_of_ids(wanted)))


def _frame_of_runs(runs: list[Run]) -> pd.DataFrame:
    """The runs as rows with the columns in `RUN_COLUMNS`, in the given order."""
    now_ms = time.time() * 1000
    rows = []
    for run in runs:
        info, params, metrics = run.info, run.data.params, run.data.metrics
        rows.append((
            info.run_id, info.run_name, metrics.get(TEST_ACCURACY, math.nan), metrics.get(VAL_ACCURACY, math.nan),
            *(metrics.get(key, math.nan) for key in TIME_TO_METRICS), info.status,
            metrics.get(CORRUPTION_MEAN_ACCURACY, math.nan), *_settings_columns(params),
            duration_s(info, now_ms), info.start_time, _user_tags(run.data.tags), evaluated_images(run),
        ))
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    for column in ("test_images", "epochs"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    frame["start_time"] = pd.to_datetime(frame["start_time"], unit="ms", utc=True)
    return frame


def _settings_columns(params: dict[str, str]) -> tuple:
    """The dataset, arch, tricks and epochs columns of a run from its params. A run cnnkit did not write
    (another tool's, without cnnkit's `dataset` and `arch` params) gets UNKNOWN and no epochs: `describe_tricks`
    would fill in cnnkit's defaults for what it lacks ("adam 0.001"), which that run never used."""
    if not CNNKIT_PARAMS <= params.keys():
        return UNKNOWN, UNKNOWN, UNKNOWN, None
    return params["dataset"], params["arch"], describe_tricks(params), params.get("epochs")


def _user_tags(tags: dict[str, str]) -> str:
    """People's tags as "key" or "key=value", comma-joined."""
    return ", ".join(
        f"{key}={value}" if value else key
        for key, value in sorted(tags.items())
        if not key.startswith(RESERVED_TAG_PREFIXES)
    )

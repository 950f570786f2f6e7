"""What the store's parts share: the client on one store (`StoreClient`, the base of each part of
`RunStore`), reading runs by id or by search a page at a time, and MLflow's complaints a person
can act on turned into InputError."""

from __future__ import annotations

import contextlib
import gc
import math

from mlflow.entities import Run, RunInfo, ViewType
from mlflow.exceptions import MlflowException

from cnnkit.errors import InputError
from cnnkit.tracking.store_address import default_tracking_uri, login
from cnnkit.tracking.store_opening import make_client

_MAX_RESULTS_PER_CALL = 50_000  # MLflow's search limit


class StoreClient:
    """A client on one tracking store; StoreError on creation when the store can't be used."""

    def __init__(self, tracking_uri: str | None = None):
        self.tracking_uri = tracking_uri or default_tracking_uri()
        self._client = make_client(self.tracking_uri)

    def _runs(self, run_ids: list[str]) -> list[Run]:
        """The runs with these ids, each once, in the given order; InputError (MLflow's "not found")
        for one that is not in the store. Several runs come in one search: a `get_run` each costs
        about as much as a search for 20 (Compare of 20 runs read them three times)."""
        client = self._client
        wanted = list(dict.fromkeys(run_ids))
        found = {}
        if len(wanted) > 1 and all(run_id.isalnum() for run_id in wanted):
            experiments = paged(lambda size, token: client.search_experiments(ViewType.ALL, size, page_token=token))
            found = {run.info.run_id: run for run in paged(lambda size, token: client.search_runs(
                [experiment.experiment_id for experiment in experiments], one_of_ids(wanted), ViewType.ALL, size,
                page_token=token))}
        with as_input_error():
            return [found.get(run_id) or client.get_run(run_id) for run_id in wanted]

    def _search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: float = math.inf) -> list:
        """Active (not deleted) runs, newest first."""
        return paged(
            lambda size, token: self._client.search_runs(
                experiment_ids, filter_string, ViewType.ACTIVE_ONLY, size, ["attributes.start_time DESC"], token
            ),
            max_results,
        )


def paged(fetch, limit: float = math.inf) -> list:
    """Up to `limit` items from `fetch(max_results, page_token)`, in as few pages as MLflow allows."""
    items: list = []
    token = None
    while len(items) < limit:
        page = fetch(min(limit - len(items), _MAX_RESULTS_PER_CALL), token)
        items += page
        token = page.token
        if not token:
            break
    return items


def one_of_ids(run_ids: list[str]) -> str:
    """A filter string keeping the runs with these ids (alphanumeric, as MLflow's are: nothing to quote)."""
    return "attributes.run_id IN ({})".format(", ".join(f"'{run_id}'" for run_id in run_ids))


def display_names(runs: list[Run]) -> list[str]:
    """Run names for tables and legends: a name several runs share gets the run id's first
    8 characters in brackets; a run without a name is shown by that short id."""
    names = [run.info.run_name or run.info.run_id[:8] for run in runs]
    return [
        f"{name} ({run.info.run_id[:8]})" if names.count(name) > 1 else name
        for run, name in zip(runs, names)
    ]


def duration_s(info: RunInfo, now_ms: float) -> float:
    """Seconds from the run's start to its end, or to now while it is RUNNING; nan without times."""
    end_ms = now_ms if info.status == "RUNNING" else info.end_time
    return (end_ms - info.start_time) / 1000 if end_ms and info.start_time else math.nan


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while MLflow builds tens of thousands of row
    objects at once (500 runs: ~28k params, metrics and tags). Collections triggered by those
    allocations re-scan the whole heap (large once Keras is loaded) and cost more than the
    query itself. Whatever becomes garbage meanwhile is collected after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def as_input_error():
    """MLflow's complaints a person can act on (a bad tag name, a run or tag that is gone)
    as InputError, and a tracking server's refusal to let this user change a run; anything else
    (the store is down) passes through."""
    try:
        yield
    except MlflowException as error:
        if error.error_code == "PERMISSION_DENIED":
            user = login()
            raise InputError(f"User {user[0] if user else '(none)'} may only read this run: changing it needs EDIT "
                             "permission on its experiment, which the tracking server's admin can grant.") from None
        if error.error_code not in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            raise
        raise InputError(error.message) from None

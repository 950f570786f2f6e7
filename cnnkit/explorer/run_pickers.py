"""Which finished runs the run pickers of Inspect, Compare and Classify offer, so that they stay
fast and complete at 10,000 runs: the newest `PICK_COUNT` finished runs, or those a search in the
"Find a run" box finds in the store (by name, or by the start of the run id, as the Runs page's
search reads it), plus the runs already chosen, however old. Never every run.

`store` is anything with `RunStore`'s `runs_page` and `runs_by_id`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

import cnnkit.explorer.run_filter as run_filter

PICK_COUNT = 100  # the newest finished runs a picker offers without a search
FIND_LABEL = "Find a run"
FIND_HELP = (f"Part of a run's name, or the start of its id (6 or more characters), to pick from older runs: "
             f"the pickers offer the newest {PICK_COUNT} finished runs, and the runs chosen.")
FINISHED = "FINISHED"
# How a multi-run picker filters what is typed into it: as one piece of the label, any case. Streamlit's
# default fuzzy filter matches the letters in order anywhere, so "trial 2" also matched "trial 1 · 2c9e41".
FILTER_MODE = "contains"
SELECT_ALL_UP_TO = 8  # a picker's "Select all" / "Select N matches" shows only while this few would be added


@dataclass(frozen=True)
class PickerRuns:
    """The finished runs a picker offers (`runs`: columns as `RunStore.runs_frame`, newest first),
    and whether more finished runs match than are offered (then only a search reaches them)."""

    runs: pd.DataFrame
    more: bool

    @property
    def labels(self) -> dict[str, str]:
        """run id -> label, newest first."""
        return {row.run_id: run_label(row.name, row.run_id) for row in self.runs.itertuples()}


def run_label(name: str, run_id: str) -> str:
    """How a run is named in pickers: its name plus the start of its id (names repeat)."""
    return f"{name} · {run_id[:6]}"


def find_filter(text: str = "") -> str:
    """The store's filter for the finished runs a search finds: a name containing `text` (any
    case), or an id starting with it (6 to 32 hex digits); every finished run for no text.
    InputError naming the search box for a text MLflow can't search for."""
    return " AND ".join([*run_filter.one_of("attributes.status", [FINISHED], run_filter.STATUSES),
                         *run_filter.search_clauses(text, label=FIND_LABEL)])


def offered_runs(store, text: str = "", count: int | None = None) -> PickerRuns:
    """The newest `count` (`PICK_COUNT`) finished runs the search `text` finds (every finished run
    for no text): one search of the store, filtered and ordered there."""
    page = store.runs_page(find_filter(text), page_size=count or PICK_COUNT)
    return PickerRuns(page.runs, page.more)


def finished_by_id(store, run_ids: Iterable[str]) -> pd.DataFrame:
    """Those of `run_ids` that are finished runs still in the store, newest first, in one search."""
    runs = store.runs_by_id(list(run_ids))
    return runs[runs["status"] == FINISHED]


def with_chosen(offered: PickerRuns, chosen: Iterable[str | None],
                look_up: Callable[[tuple[str, ...]], pd.DataFrame]) -> PickerRuns:
    """`offered` with the finished runs among `chosen` (ids; None left out) that it lacks, all
    newest first: a run already picked stays pickable whatever a search or newer runs push out.
    `look_up(ids)` reads the lacking ones (`finished_by_id`, or a cached copy of it); it is not
    called when none lack."""
    shown = set(offered.runs["run_id"])
    lacking = tuple(run_id for run_id in dict.fromkeys(chosen) if run_id and run_id not in shown)
    found = look_up(lacking) if lacking else None
    if found is None or found.empty:
        return offered
    runs = pd.concat([offered.runs, found], ignore_index=True)
    return PickerRuns(runs.sort_values("start_time", ascending=False, kind="stable", ignore_index=True), offered.more)

"""Ablations read back (cnnkit.experiments.ablations launches them): the ablations in the store,
and one ablation's runs with their cells, seeds and results. Their tags keep the old word, "study"."""

from __future__ import annotations

import json
import math

import pandas as pd

from cnnkit.tracking._store_client import StoreClient, display_names, gc_paused
from cnnkit.tracking.run_schema import (
    RESULT_METRICS, ABLATION_CELL_TAG, ABLATION_ID_TAG, ABLATION_NAME_TAG, ABLATION_SEED_TAG, ABLATION_SIZE_TAG,
)
from cnnkit.tracking.store_address import DEFAULT_EXPERIMENT

ABLATION_RUN_COLUMNS = ("run_id", "run", "status", "cell", "seed", *RESULT_METRICS)
ABLATION_COLUMNS = ("ablation_id", "ablation", "size", "runs", "started")


class AblationReads(StoreClient):
    """The ablations in the store and their runs."""

    def ablation_runs(self, ablation_id: str, experiment: str = DEFAULT_EXPERIMENT) -> pd.DataFrame:
        """The runs of one ablation, oldest first, with the columns in `ABLATION_RUN_COLUMNS`: `cell` the
        factor levels as a dict (name -> level label), `seed` the run's seed, metrics nan until logged."""
        found = self._client.get_experiment_by_name(experiment)
        if found is None or not ablation_id.isalnum():
            return pd.DataFrame(columns=list(ABLATION_RUN_COLUMNS))
        with gc_paused():
            runs = self._search_runs([found.experiment_id], f"tags.\"{ABLATION_ID_TAG}\" = '{ablation_id}'")[::-1]
        rows = [(run.info.run_id, name, run.info.status, json.loads(run.data.tags.get(ABLATION_CELL_TAG, "{}")),
                 int(run.data.tags.get(ABLATION_SEED_TAG, run.data.params.get("seed", 0))),
                 *(run.data.metrics.get(key, math.nan) for key in RESULT_METRICS))
                for run, name in zip(runs, display_names(runs))]
        return pd.DataFrame(rows, columns=list(ABLATION_RUN_COLUMNS))

    def ablations(self, experiment: str = DEFAULT_EXPERIMENT, max_runs: int = 5000) -> pd.DataFrame:
        """The ablations in the store, newest first, with the columns in `ABLATION_COLUMNS`: `size` the runs
        planned, `runs` those in the store, `started` its first run's start."""
        found = self._client.get_experiment_by_name(experiment)
        if found is None:
            return pd.DataFrame(columns=list(ABLATION_COLUMNS))
        with gc_paused():
            runs = self._search_runs([found.experiment_id], f"tags.\"{ABLATION_ID_TAG}\" LIKE '%'", max_runs)
        rows: dict[str, list] = {}
        for run in runs[::-1]:
            tags = run.data.tags
            row = rows.setdefault(tags[ABLATION_ID_TAG], [tags[ABLATION_ID_TAG], tags.get(ABLATION_NAME_TAG, ""),
                                                       int(tags.get(ABLATION_SIZE_TAG, 0)), 0, run.info.start_time])
            row[3] += 1
        frame = pd.DataFrame(list(rows.values())[::-1], columns=list(ABLATION_COLUMNS))
        frame["started"] = pd.to_datetime(frame["started"], unit="ms", utc=True)
        return frame

"""Label audits read back (cnnkit.experiments.label_audit launches them): the audits in the store, and one
audit's fold runs."""

from __future__ import annotations

import pandas as pd

from cnnkit.tracking._store_client import StoreClient, display_names, gc_paused
from cnnkit.tracking.run_schema import (
    LABEL_AUDIT_FOLD_TAG, LABEL_AUDIT_FOLDS_TAG, LABEL_AUDIT_ID_TAG, LABEL_AUDIT_NAME_TAG,
)
from cnnkit.tracking.store_address import DEFAULT_EXPERIMENT

LABEL_AUDIT_RUN_COLUMNS = ("run_id", "run", "status", "fold", "folds", "label_audit")
LABEL_AUDIT_COLUMNS = ("label_audit_id", "label_audit", "folds", "finished", "runs", "started", "dataset", "a_run_id")


class LabelAuditReads(StoreClient):
    """The label audits in the store and their runs."""

    def label_audit_runs(self, audit_id: str, experiment: str = DEFAULT_EXPERIMENT) -> pd.DataFrame:
        """The fold runs of one audit, fold 1 first (a fold's newest run first), with the columns in
        `LABEL_AUDIT_RUN_COLUMNS` (`fold` 1-based, `folds` how many the audit has, `label_audit` its name); empty
        for an audit the store doesn't hold."""
        found = self._client.get_experiment_by_name(experiment)
        if found is None or not audit_id.isalnum():
            return pd.DataFrame(columns=list(LABEL_AUDIT_RUN_COLUMNS))
        with gc_paused():
            runs = self._search_runs([found.experiment_id], f"tags.\"{LABEL_AUDIT_ID_TAG}\" = '{audit_id}'")
        rows = [(run.info.run_id, name, run.info.status, int(run.data.tags[LABEL_AUDIT_FOLD_TAG]),
                 int(run.data.tags[LABEL_AUDIT_FOLDS_TAG]), run.data.tags.get(LABEL_AUDIT_NAME_TAG, ""))
                for run, name in zip(runs, display_names(runs))]
        return pd.DataFrame(sorted(rows, key=lambda row: row[3]), columns=list(LABEL_AUDIT_RUN_COLUMNS))

    def label_audits(self, experiment: str = DEFAULT_EXPERIMENT, max_runs: int = 5000) -> pd.DataFrame:
        """The label audits in the store, newest first, with the columns in `LABEL_AUDIT_COLUMNS`: `folds` the
        fold runs planned, `finished` the folds with a finished run, `runs` its runs in the store (a fold trained
        again counts twice), `started` its first run's start, `dataset` and `a_run_id` (one of its runs)."""
        found = self._client.get_experiment_by_name(experiment)
        if found is None:
            return pd.DataFrame(columns=list(LABEL_AUDIT_COLUMNS))
        with gc_paused():
            runs = self._search_runs([found.experiment_id], f"tags.\"{LABEL_AUDIT_ID_TAG}\" LIKE '%'", max_runs)
        audits: dict[str, dict] = {}
        for run in runs[::-1]:  # oldest first: an audit's first run gives its start
            tags = run.data.tags
            audit = audits.setdefault(tags[LABEL_AUDIT_ID_TAG], {
                "label_audit_id": tags[LABEL_AUDIT_ID_TAG], "label_audit": tags.get(LABEL_AUDIT_NAME_TAG, ""),
                "folds": int(tags.get(LABEL_AUDIT_FOLDS_TAG, 0)), "finished": set(), "runs": 0,
                "started": run.info.start_time, "dataset": run.data.params.get("dataset", ""),
                "a_run_id": run.info.run_id})
            audit["runs"] += 1
            if run.info.status == "FINISHED":
                audit["finished"].add(tags.get(LABEL_AUDIT_FOLD_TAG))
        frame = pd.DataFrame([{**audit, "finished": len(audit["finished"])} for audit in audits.values()][::-1],
                             columns=list(LABEL_AUDIT_COLUMNS))
        frame["started"] = pd.to_datetime(frame["started"], unit="ms", utc=True)
        return frame

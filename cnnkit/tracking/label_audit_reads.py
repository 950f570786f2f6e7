"""Label audits read back (cnnkit.experiments.label_audit launches them): one audit's fold runs."""

from __future__ import annotations

import pandas as pd

from cnnkit.tracking._store_client import StoreClient, display_names, gc_paused
from cnnkit.tracking.run_schema import LABEL_AUDIT_FOLD_TAG, LABEL_AUDIT_FOLDS_TAG, LABEL_AUDIT_ID_TAG
from cnnkit.tracking.store_address import DEFAULT_EXPERIMENT

LABEL_AUDIT_RUN_COLUMNS = ("run_id", "run", "status", "fold", "folds")


class LabelAuditReads(StoreClient):
    """A label audit's runs."""

    def label_audit_runs(self, audit_id: str, experiment: str = DEFAULT_EXPERIMENT) -> pd.DataFrame:
        """The fold runs of one audit, fold 1 first, with the columns in `LABEL_AUDIT_RUN_COLUMNS` (`fold` 1-based,
        `folds` how many the audit has); empty for an audit the store doesn't hold."""
        found = self._client.get_experiment_by_name(experiment)
        if found is None or not audit_id.isalnum():
            return pd.DataFrame(columns=list(LABEL_AUDIT_RUN_COLUMNS))
        with gc_paused():
            runs = self._search_runs([found.experiment_id], f"tags.\"{LABEL_AUDIT_ID_TAG}\" = '{audit_id}'")
        rows = [(run.info.run_id, name, run.info.status, int(run.data.tags[LABEL_AUDIT_FOLD_TAG]),
                       int(run.data.tags[LABEL_AUDIT_FOLDS_TAG])) for run, name in zip(runs, display_names(runs))]
        return pd.DataFrame(sorted(rows, key=lambda row: row[3]), columns=list(LABEL_AUDIT_RUN_COLUMNS))

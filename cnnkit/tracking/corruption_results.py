"""A run's corruption sweep in the store: its metrics and table written on the finished run, the
table read back (`training.corruption_sweep` computes them; the pages draw them)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from cnnkit.tracking._store_client import StoreClient, as_input_error
from cnnkit.tracking.logger import RunLogger
from cnnkit.tracking.patience import Patience
from cnnkit.tracking.run_schema import CORRUPTION_TABLE

SWEEP_COLUMNS = ("corruption", "severity", "parameter", "benchmark", "accuracy")  # the table's, in order


class CorruptionResults(StoreClient):
    """Writing and reading a run's corruption sweep."""

    def log_corruption_sweep(self, run_id: str, metrics: dict[str, float], table: pd.DataFrame) -> None:
        """`table` as CORRUPTION_TABLE, then `metrics` at step 0 (a newer sweep's replace an older's), on the
        run as it is (its status unchanged). The table first: a reader that sees the metrics finds their
        table, and one that keys a cached table by them never keeps the older table under the newer key."""
        RunLogger(self, run_id).log_table(table.loc[:, list(SWEEP_COLUMNS)], CORRUPTION_TABLE)
        now = int(time.time() * 1000)
        values = [Metric(key, float(value), now, 0) for key, value in metrics.items()]
        with as_input_error():
            Patience().call(lambda: self._client.log_batch(run_id, metrics=values))

    def corruption_table(self, run_id: str) -> pd.DataFrame | None:
        """The run's latest sweep (columns SWEEP_COLUMNS, one row per corruption and severity); None
        when it has none."""
        try:
            with tempfile.TemporaryDirectory() as tmp:
                return pd.read_csv(Path(self._client.download_artifacts(run_id, CORRUPTION_TABLE, tmp)))
        except (MlflowException, OSError):
            return None

"""Runs' curves: one run's per-epoch metrics and per-batch loss and rate, and several runs' curves
in long form, to overlay."""

from __future__ import annotations

import pandas as pd

from cnnkit.tracking._store_client import StoreClient, display_names
from cnnkit.tracking.run_schema import BATCH_LOSS, BATCH_LR, BATCH_METRICS, EPOCH_CURVES, EPOCH_METRICS


class RunCurves(StoreClient):
    """Reading runs' metric histories as frames."""

    def run_history(self, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A run's per-epoch metrics (column `epoch` plus those of `EPOCH_METRICS` it logged) and
        per-batch curves (`step`, `batch_loss`, `batch_lr`). `batch_lr` is logged only when the
        rate changes, so it is carried forward to every batch."""
        return self.epoch_history(run_id), self._batch_frame(run_id)

    def epoch_history(self, run_id: str) -> pd.DataFrame:
        """The run's per-epoch metrics: column `epoch` plus those of `EPOCH_METRICS` it logged."""
        return self._history_frame(run_id, EPOCH_METRICS, "epoch")

    def histories(self, run_ids: list[str], keys: tuple[str, ...] = EPOCH_CURVES, batch: bool = False) -> pd.DataFrame:
        """The runs' curves in long form, to overlay: columns run_id, run (as in `results_table`),
        then `epoch` and one column per key, or with `batch` `step`, batch_loss and batch_lr
        (`keys` is then unused; batch_lr is carried forward as in `run_history`). A key a run
        never logged is nan."""
        step, keys = ("step", BATCH_METRICS) if batch else ("epoch", tuple(keys))
        runs = self._runs(run_ids)
        frames = []
        for run, name in zip(runs, display_names(runs)):
            run_id = run.info.run_id
            curves = self._batch_frame(run_id) if batch else self._history_frame(run_id, keys, step)
            if len(curves):
                frames.append(curves.reindex(columns=[step, *keys]).assign(run_id=run_id, run=name))
        columns = ["run_id", "run", step, *keys]
        return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)

    def _batch_frame(self, run_id: str) -> pd.DataFrame:
        batches = self._history_frame(run_id, BATCH_METRICS, "step").reindex(columns=["step", *BATCH_METRICS])
        batches[BATCH_LR] = batches[BATCH_LR].ffill()
        return batches.dropna(subset=[BATCH_LOSS]).reset_index(drop=True)

    def _history_frame(self, run_id: str, keys: tuple[str, ...], step_name: str) -> pd.DataFrame:
        """The histories of `keys` side by side, one row per step; keys never logged get no column.
        A step logged twice keeps its latest value (histories come in time order)."""
        columns = {}
        for key in keys:
            history = self._client.get_metric_history(run_id, key)
            if history:
                columns[key] = pd.Series({metric.step: metric.value for metric in history}, dtype="float64")
        if not columns:
            return pd.DataFrame(columns=[step_name])
        return pd.DataFrame(columns).sort_index().rename_axis(step_name).reset_index()

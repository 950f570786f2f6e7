"""Runs' curves: one run's per-epoch metrics and per-batch loss and rate, and several runs' curves
and system metrics in long form, to overlay."""

from __future__ import annotations

import itertools

import pandas as pd

from cnnkit.tracking._store_client import StoreClient, display_names
from cnnkit.tracking.run_schema import (BATCH_LOSS, BATCH_LR, BATCH_METRICS, ELAPSED_SECONDS, EPOCH_CURVES,
                                       EPOCH_METRICS, EPOCH_SECONDS, SYSTEM_CPU, SYSTEM_MEMORY, TIME_TO_METRICS,
                                       VAL_ACCURACY, VAL_ACCURACY_THRESHOLDS, system_gpu_utilization)

ACCURACY_TOLERANCE = 1e-6  # Keras' float32 accuracy of 90 right of 100 is 0.8999999761...: it reached 0.9


def with_elapsed(epochs: pd.DataFrame) -> pd.DataFrame:
    """One run's per-epoch frame with its training clock, `elapsed_s`: as logged; for a run that
    logged none, the running sum of its `epoch_seconds` when those cover every epoch from the first
    (a fork's epochs start after its parent's: its clock can't be rebuilt, it has no elapsed_s)."""
    logged = ELAPSED_SECONDS in epochs and epochs[ELAPSED_SECONDS].notna().any()
    if logged or EPOCH_SECONDS not in epochs or not len(epochs):
        return epochs
    seconds = epochs.sort_values("epoch")
    if seconds[EPOCH_SECONDS].isna().any() or seconds["epoch"].tolist() != list(range(1, len(seconds) + 1)):
        return epochs
    return epochs.assign(**{ELAPSED_SECONDS: seconds[EPOCH_SECONDS].cumsum()})


def thresholds_reached(val_accuracy: float) -> tuple[str, ...]:
    """The time_to_val_acc_* metrics whose thresholds `val_accuracy` reaches."""
    return tuple(key for threshold, key in zip(VAL_ACCURACY_THRESHOLDS, TIME_TO_METRICS)
                 if val_accuracy >= threshold - ACCURACY_TOLERANCE)


def threshold_times(epochs: pd.DataFrame) -> dict[str, float]:
    """time_to_val_acc_* -> the elapsed_s of the first epoch whose validation accuracy reached that
    threshold, for the thresholds reached, from one run's per-epoch frame (as `with_elapsed` gives it)."""
    if not {ELAPSED_SECONDS, VAL_ACCURACY} <= set(epochs):
        return {}
    timed = epochs.dropna(subset=[ELAPSED_SECONDS, VAL_ACCURACY]).sort_values("epoch")
    times: dict[str, float] = {}
    for accuracy, elapsed in zip(timed[VAL_ACCURACY], timed[ELAPSED_SECONDS]):
        times.update({key: float(elapsed) for key in thresholds_reached(accuracy) if key not in times})
    return times


SYSTEM_COLUMNS = ["run_id", "run", "metric", "seconds", "value"]


def _system_keys(logged) -> list[str]:
    """The system metrics drawn of those a run `logged`: CPU, memory, then each GPU's use."""
    gpus = itertools.takewhile(lambda gpu: system_gpu_utilization(gpu) in logged, itertools.count())
    return [key for key in (SYSTEM_CPU, SYSTEM_MEMORY) if key in logged] + [system_gpu_utilization(gpu) for gpu in gpus]


class RunCurves(StoreClient):
    """Reading runs' metric histories as frames."""

    def run_history(self, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A run's per-epoch metrics (column `epoch` plus those of `EPOCH_METRICS` it logged) and
        per-batch curves (`step`, `batch_loss`, `batch_lr`). `batch_lr` is logged only when the
        rate changes, so it is carried forward to every batch."""
        return self.epoch_history(run_id), self._batch_frame(run_id)

    def epoch_history(self, run_id: str) -> pd.DataFrame:
        """The run's per-epoch metrics: column `epoch` plus those of `EPOCH_METRICS` it logged, and
        `elapsed_s` rebuilt where `with_elapsed` can."""
        return with_elapsed(self._history_frame(run_id, EPOCH_METRICS, "epoch"))

    def histories(self, run_ids: list[str], keys: tuple[str, ...] = EPOCH_CURVES, batch: bool = False) -> pd.DataFrame:
        """The runs' curves in long form, to overlay: columns run_id, run (as in `results_table`),
        then `epoch` and one column per key, or with `batch` `step`, batch_loss and batch_lr
        (`keys` is then unused; batch_lr is carried forward as in `run_history`). A key a run
        never logged is nan; `elapsed_s` among `keys` is rebuilt where `with_elapsed` can."""
        step, keys = ("step", BATCH_METRICS) if batch else ("epoch", tuple(keys))
        runs = self._runs(run_ids)
        frames = []
        for run, name in zip(runs, display_names(runs)):
            run_id = run.info.run_id
            curves = self._batch_frame(run_id) if batch else self._epoch_curves(run_id, keys)
            if len(curves):
                frames.append(curves.reindex(columns=[step, *keys]).assign(run_id=run_id, run=name))
        columns = ["run_id", "run", step, *keys]
        return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)

    def system_history(self, run_ids: list[str]) -> pd.DataFrame:
        """The runs' system metrics (CPU, memory, each GPU's use) in long form: columns run_id, run (as in
        `results_table`), metric (its `run_schema` name), seconds (since the run started) and value.
        Runs without them (trained before cnnkit sampled them, or with sampling off) have no rows."""
        runs = self._runs(run_ids)
        rows = [(run.info.run_id, name, key, (metric.timestamp - run.info.start_time) / 1000, metric.value)
                for run, name in zip(runs, display_names(runs))
                for key in _system_keys(run.data.metrics)
                for metric in self._client.get_metric_history(run.info.run_id, key)]
        return pd.DataFrame(rows, columns=SYSTEM_COLUMNS)

    def _epoch_curves(self, run_id: str, keys: tuple[str, ...]) -> pd.DataFrame:
        if ELAPSED_SECONDS not in keys:
            return self._history_frame(run_id, keys, "epoch")
        timed = with_elapsed(self._history_frame(run_id, (*keys, EPOCH_SECONDS), "epoch"))
        return timed.drop(columns=[EPOCH_SECONDS] if EPOCH_SECONDS not in keys else [], errors="ignore")

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

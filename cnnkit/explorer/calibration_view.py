"""A run's calibration as the pages show it (the Runs page's open run, Compare, Classify): as training
logged it (`training.calibration_step`), or, for a run trained before that, computed from the test
probabilities its last snapshot kept (with no temperature), or one line saying why there is none."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnkit.experiments import time_travel
from cnnkit.tracking import run_schema
from cnnkit.training import Calibration, calibrate

NOT_FITTED = "not fitted (trained before calibration was logged)"
NO_VALIDATION = "not fitted (the run had no validation split to fit it on)"


@dataclass(frozen=True)
class RunCalibration:
    """`calibration`: None where there is none to show (`note` says why); `note`: where the numbers come
    from, or why the temperature is missing; `snapshot_epoch`: the snapshot whose test probabilities they
    are (or can be) computed from, for a run trained before calibration was logged."""

    calibration: Calibration | None
    note: str | None = None
    snapshot_epoch: int | None = None

    @property
    def temperature_text(self) -> str:
        """The temperature for a person: "T = 1.23", or why there is none."""
        if self.calibration is not None and self.calibration.temperature is not None:
            return f"T = {self.calibration.temperature:.2f}"
        return NOT_FITTED if self.snapshot_epoch is not None or self.calibration is None else NO_VALIDATION


def run_calibration(store, run_id: str, test_labels: Callable[[], np.ndarray] | None = None) -> RunCalibration:
    """Run `run_id`'s calibration from `store` (a `tracking.RunStore`). A run trained before calibration
    was logged is calibrated from its last snapshot's test probabilities when `test_labels()` (its test
    split's labels, in test order) is given; without it, the result says that it can be."""
    run = store.run(run_id)
    if run_schema.TEST_ECE in run.metrics:
        logged = Calibration.from_json(store.load_json_artifact(run_id, run_schema.CALIBRATION))
        return RunCalibration(logged, None if logged.temperature is not None else f"Temperature {NO_VALIDATION}.")
    epoch = time_travel.final_snapshot_epoch(run.params, run.metrics)
    if epoch is None or epoch not in store.snapshot_epochs(run_id):
        return RunCalibration(None, "No calibration: this run was trained before calibration was logged and kept no "
                                    "snapshot of its final test probabilities (setting “Snapshot every”).")
    if test_labels is None:
        return RunCalibration(None, f"This run was trained before calibration was logged; its calibration can be "
                                    f"computed from the test probabilities its epoch-{epoch} snapshot kept.", epoch)
    found = calibrate(store.snapshot_probabilities(run_id, epoch), test_labels())
    return RunCalibration(found, f"Temperature {NOT_FITTED}: these numbers come from the test probabilities its "
                                 f"epoch-{epoch} snapshot kept.", epoch)


def summary(calibrations: Mapping[str, RunCalibration]) -> pd.DataFrame:
    """One row per run (display name -> its calibration) with one: run, temperature, ECE, MCE, NLL and
    Brier score before scaling, and ECE and NLL after (nan without a temperature)."""
    rows = []
    for name, found in calibrations.items():
        if found.calibration is None:
            continue
        before, after = found.calibration.before, found.calibration.after
        rows.append({"run": name, "temperature": found.temperature_text, "ECE": before.ece, "MCE": before.mce,
                     "NLL": before.nll, "Brier": before.brier, "ECE scaled": after.ece if after else np.nan,
                     "NLL scaled": after.nll if after else np.nan})
    return pd.DataFrame(rows, columns=["run", "temperature", "ECE", "MCE", "NLL", "Brier", "ECE scaled", "NLL scaled"])


def report_table(found: Calibration) -> pd.DataFrame:
    """One run's numbers, a row before scaling and (with a temperature) one after: ECE, MCE, NLL, Brier."""
    reports = {"before scaling": found.before, **({"after scaling": found.after} if found.after else {})}
    return pd.DataFrame([{"": label, "ECE": report.ece, "MCE": report.mce, "NLL": report.nll, "Brier": report.brier}
                         for label, report in reports.items()])


def temperature_of(run_metrics: Mapping[str, float]) -> float | None:
    """The temperature a run fitted (its metrics, as `RunStore.run` gives them), None when it fitted none."""
    value = run_metrics.get(run_schema.TEMPERATURE)
    return None if value is None else float(value)


def classify_caption(run_metrics: Mapping[str, float], calibrated: bool) -> str:
    """What Classify says above a run's probabilities (`run_metrics`: the run's): which ones they are."""
    temperature = temperature_of(run_metrics)
    if temperature is None:
        why = NO_VALIDATION if run_schema.TEST_ECE in run_metrics else NOT_FITTED
        return f"Raw probabilities (the network's softmax): temperature {why}."
    if calibrated:
        return (f"Probabilities calibrated with temperature T = {temperature:.2f} fitted on the validation split "
                "(the softmax of the log-probabilities divided by T).")
    return f"Raw probabilities (the network's softmax), without the run's temperature T = {temperature:.2f}."

"""At a run's end: are its test probabilities calibrated? The reliability bins, ECE, MCE, NLL and Brier
score on the test split (`stats.calibration`), before and after temperature scaling fitted on the
validation split (Guo et al. 2017), logged under run_schema's calibration names.

Everything is computed from the probabilities as they are logged (float16, like the snapshots'), so
anyone can recompute a run's numbers from its CALIBRATION_PROBABILITIES artifact. NumPy only: the
explorer reads a logged `Calibration` back (`from_json`) without Keras."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from cnnkit.stats import calibration
from cnnkit.tracking import run_schema

NO_VALIDATION = "not fitted: the run had no validation split to fit it on"


@dataclass(frozen=True)
class Calibration:
    """A run's calibration on its test split: `before` scaling, and with a `temperature` (fitted on
    the validation split) `after` it; both None where there was no validation split."""

    before: calibration.CalibrationReport
    temperature: float | None = None
    after: calibration.CalibrationReport | None = None

    def metrics(self) -> dict[str, float]:
        values = dict(zip(run_schema.CALIBRATION_METRICS, _numbers(self.before)))
        if self.after is not None:
            values[run_schema.TEMPERATURE] = self.temperature
            values.update(zip(map(run_schema.scaled_metric, run_schema.CALIBRATION_METRICS), _numbers(self.after)))
        return values

    def to_json(self) -> dict:
        return {"temperature": self.temperature, "bins": calibration.BINS, "before": _report_json(self.before),
                "after": None if self.after is None else _report_json(self.after)}

    @classmethod
    def from_json(cls, value: dict) -> Calibration:
        after = value.get("after")
        return cls(_report_of(value["before"]), value.get("temperature"), None if after is None else _report_of(after))


def calibrate(test_probabilities, y_test, validation_probabilities=None, y_validation=None) -> Calibration:
    """The test split's calibration; with validation probabilities, also after temperature scaling fitted on them."""
    before = calibration.report(test_probabilities, y_test)
    if validation_probabilities is None or not len(validation_probabilities):
        return Calibration(before)
    temperature = calibration.fit_temperature(calibration.logits_of(validation_probabilities), y_validation)
    return Calibration(before, temperature,
                       calibration.report(calibration.calibrated(test_probabilities, temperature), y_test))


def log_calibration(logger, data, test_probabilities: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
                    step: int) -> Calibration:
    """Predict the validation images of `data` (a `datasets.Dataset`) with `predict` (one pass, as the
    test images were), calibrate, and log the metrics at `step`, the report and both splits'
    probabilities with their labels through `logger` (a `tracking.RunLogger`)."""
    test = np.asarray(test_probabilities, dtype=np.float16)
    validation = np.asarray(predict(data.x_val), dtype=np.float16) if len(data.x_val) else test[:0]
    found = calibrate(test, data.y_test, validation, data.y_val)
    logger.log_metrics(found.metrics(), step=step)
    logger.log_json(found.to_json(), run_schema.CALIBRATION)
    logger.log_arrays({"test": test, "test_labels": np.asarray(data.y_test, dtype=np.int32), "validation": validation,
                       "validation_labels": np.asarray(data.y_val, dtype=np.int32)}, run_schema.CALIBRATION_PROBABILITIES)
    return found


def _numbers(report: calibration.CalibrationReport) -> tuple[float, float, float, float]:
    return report.ece, report.mce, report.nll, report.brier  # in run_schema.CALIBRATION_METRICS' order


def _report_json(report: calibration.CalibrationReport) -> dict:
    bins = report.bins.astype(object).where(report.bins.notna(), None)  # an empty bin's nan as JSON's null
    return {"ece": report.ece, "mce": report.mce, "nll": report.nll, "brier": report.brier,
            "reliability": bins.to_dict("records")}


def _report_of(value: dict) -> calibration.CalibrationReport:
    bins = pd.DataFrame.from_records(value["reliability"], columns=["low", "high", "count", "accuracy", "confidence"])
    bins = bins.astype({"low": float, "high": float, "count": np.int64, "accuracy": float, "confidence": float})
    return calibration.CalibrationReport(bins, *(float(value[key]) for key in ("ece", "mce", "nll", "brier")))

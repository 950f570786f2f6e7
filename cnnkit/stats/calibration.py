"""Do a model's probabilities mean what they say? Calibration of a classifier's predicted probabilities.

Callers hand in probabilities (a run's test predictions, as softmax outputs) and the true classes:
- `reliability`: the reliability diagram's data: top-label confidence in 15 equal-width bins, with
  each bin's count, accuracy and mean confidence (Guo et al. 2017, "On calibration of modern neural
  networks");
- `report`: ECE (the count-weighted mean gap between accuracy and confidence over the bins), MCE
  (the largest gap), negative log-likelihood and the multi-class Brier score;
- `fit_temperature` and `scaled`: temperature scaling, one number T fitted on validation predictions
  by minimising NLL; probabilities become softmax(logits / T). Log-probabilities serve as logits:
  log softmax(z) is z less a constant per image, which the softmax cancels; `calibrated` does that
  to a model's probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, logsumexp, softmax

BINS = 15
TEMPERATURES = (0.05, 20.0)  # the fit's search range: sharper by 20x to flatter by 20x
_TINY = 1e-12  # a probability of exactly 0 for the true class counts as this in the log-likelihood


def _checked(probabilities, y_true) -> tuple[np.ndarray, np.ndarray]:
    probabilities, y_true = np.asarray(probabilities, dtype=np.float64), np.asarray(y_true, dtype=np.int64)
    if probabilities.ndim != 2 or len(probabilities) != len(y_true) or len(y_true) == 0:
        raise ValueError(f"expected (images, classes) probabilities and one label per image, got "
                         f"{probabilities.shape} and {y_true.shape}")
    return probabilities, y_true


def reliability(probabilities, y_true, bins: int = BINS) -> pd.DataFrame:
    """One row per equal-width confidence bin (low, high]: `low`, `high`, `count`, `accuracy` and
    `confidence` (the mean top-label confidence; both nan in an empty bin)."""
    probabilities, y_true = _checked(probabilities, y_true)
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == y_true
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(which, weights=right, minlength=bins) / count
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / count
    edges = np.linspace(0.0, 1.0, bins + 1)
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": count, "accuracy": accuracy,
                         "confidence": mean_confidence})


def nll(probabilities, y_true) -> float:
    """Mean negative log-likelihood of the true class (natural log)."""
    probabilities, y_true = _checked(probabilities, y_true)
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(y_true)), y_true], _TINY, 1.0))))


def brier(probabilities, y_true) -> float:
    """Multi-class Brier score (Brier 1950): the mean over images of the squared distance between the
    probabilities and the one-hot truth, summed over classes (0 perfect, 2 worst)."""
    probabilities, y_true = _checked(probabilities, y_true)
    truth = np.zeros_like(probabilities)
    truth[np.arange(len(y_true)), y_true] = 1.0
    return float(np.mean(np.sum((probabilities - truth) ** 2, axis=1)))


@dataclass(frozen=True)
class CalibrationReport:
    bins: pd.DataFrame  # as `reliability`
    ece: float  # expected calibration error, a fraction
    mce: float  # maximum calibration error over the non-empty bins
    nll: float
    brier: float


def report(probabilities, y_true, bins: int = BINS) -> CalibrationReport:
    """Reliability bins, ECE, MCE, NLL and Brier score of one set of predictions."""
    table = reliability(probabilities, y_true, bins)
    filled = table[table["count"] > 0]
    gaps = (filled["accuracy"] - filled["confidence"]).abs()
    return CalibrationReport(bins=table, ece=float((gaps * filled["count"]).sum() / filled["count"].sum()),
                             mce=float(gaps.max()), nll=nll(probabilities, y_true), brier=brier(probabilities, y_true))


def logits_of(probabilities) -> np.ndarray:
    """Log-probabilities, which temperature scaling takes as logits (see the module docstring)."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _TINY, 1.0))


def scaled(logits, temperature: float) -> np.ndarray:
    """Probabilities softmax(logits / temperature)."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def calibrated(probabilities, temperature: float | None) -> np.ndarray:
    """A model's probabilities as temperature scaling makes them (softmax(log p / T)); unchanged
    (float64) without a temperature. The one rule wherever calibrated probabilities are shown."""
    if temperature is None:
        return np.asarray(probabilities, dtype=np.float64)
    return scaled(logits_of(probabilities), temperature)


def _nll_at(logits: np.ndarray, y_true: np.ndarray, temperature: float) -> float:
    scaled_logits = logits / temperature
    return float(np.mean(logsumexp(scaled_logits, axis=1) - scaled_logits[np.arange(len(y_true)), y_true]))


def fit_temperature(logits, y_true) -> float:
    """The temperature T minimising the NLL of softmax(logits / T) on these (validation) predictions,
    searched over log T within `TEMPERATURES`. T > 1: the model was over-confident."""
    logits, y_true = _checked(logits, y_true)
    logits = log_softmax(logits, axis=1)  # the same softmax at every T, and no overflow from large logits
    found = minimize_scalar(lambda log_t: _nll_at(logits, y_true, math.exp(log_t)), method="bounded",
                            bounds=tuple(math.log(t) for t in TEMPERATURES), options={"xatol": 1e-5})
    return float(math.exp(found.x))

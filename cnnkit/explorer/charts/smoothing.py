"""Smoothing a noisy curve (batch losses, a range test's losses): moving average and EMA."""

from __future__ import annotations

import numpy as np

from cnnkit.explorer.charts._style import _floats


def moving_average(values, window: int) -> np.ndarray:
    """Trailing moving average, same length as `values`: point i averages points i-window+1..i
    (fewer at the start). NaNs are skipped; a window with no numbers gives NaN. window 1 = copy."""
    values = _floats(values)
    if window < 1:
        raise ValueError("window must be at least 1")
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    end = np.arange(1, len(values) + 1)
    start = np.maximum(0, end - window)
    n = counts[end] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[end] - sums[start]) / n, np.nan)


def ema(values, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (what the LR range test smooths its loss with)."""
    values = _floats(values)
    out, averaged = np.empty(len(values)), 0.0
    for i, value in enumerate(values):
        averaged = beta * averaged + (1 - beta) * value
        out[i] = averaged / (1 - beta ** (i + 1))
    return out

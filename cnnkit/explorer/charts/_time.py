"""A time axis: seconds of training in a unit that reads (seconds, minutes or hours), and each point's
clock (m:ss) for its hover text."""

from __future__ import annotations

import numpy as np

from cnnkit.explorer.charts._style import _floats

UNITS = ((120.0, 1.0, "s"), (7200.0, 60.0, "min"), (np.inf, 3600.0, "h"))  # (below this many seconds, scale, unit)


def clock(seconds: float) -> str:
    """75.4 → "1:15", 3725 → "1:02:05"."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def time_scale(seconds, what: str = "Wall time of training") -> tuple[float, str]:
    """(seconds per unit, axis title: `what` and the unit) for times up to the largest of `seconds`."""
    finite = _floats(seconds)
    finite = finite[np.isfinite(finite)]
    longest = float(finite.max()) if len(finite) else 0.0
    scale, unit = next((scale, unit) for below, scale, unit in UNITS if longest < below)
    return scale, f"{what} ({unit})"


def clocks(seconds) -> np.ndarray:
    """Each of `seconds` as m:ss, for hover text (customdata)."""
    return np.array([clock(value) for value in _floats(seconds)], dtype=object)

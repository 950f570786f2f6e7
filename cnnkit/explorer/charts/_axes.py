"""Axis settings that read well: value ranges with room for end markers, whole-number ticks for
epochs and steps, log axes with ticks written out in full."""

from __future__ import annotations

import math

import numpy as np

from cnnkit.explorer.charts._style import _floats


def _spans_decades(values, decades: float = 2) -> bool:
    """Whether finite `values` are all positive and span more than `decades` powers of ten (log axis)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite)]
    return len(finite) > 0 and finite.min() > 0 and finite.max() / finite.min() > 10**decades


def _value_range(values, low: float | None = None, high: float | None = None,
                 min_span: float | None = None) -> list[float] | None:
    """A linear axis range around the finite `values`, 5 % of their span wider on each side (so
    end markers stay whole) but never more than that beyond `low` and `high` (e.g. 0 and 1 for
    accuracy). Equal values (a single epoch) get a window `min_span` wide (default: 20 % of the
    value, or 1 around 0) instead of Plotly's ±1, which puts a 13 % accuracy on an axis from
    -87 % to 113 %. None without finite values (Plotly's autorange then)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return None
    bottom, top = float(finite.min()), float(finite.max())
    if top == bottom:
        half = (min_span or 0.2 * abs(top) or 1.0) / 2
        bottom, top = bottom - half, top + half
        if low is not None and bottom < low:
            bottom, top = low, low + 2 * half
        if high is not None and top > high:
            bottom, top = max(high - 2 * half, low if low is not None else -math.inf), high
    pad = 0.05 * (top - bottom)
    bottom, top = bottom - pad, top + pad
    if low is not None:
        bottom = max(bottom, low - pad)
    if high is not None:
        top = min(top, high + pad)
    return [bottom, top]


def _count_axis(values) -> dict:
    """Axis settings for whole numbers (epochs, steps): ticks only on whole numbers, at most about
    ten (1, 2 or 5 times a power of ten apart), where Plotly would write 1.5 between epochs 1 and
    2; a single value gets a range of ±0.5 around it instead of Plotly's ±1 (which shows epoch 0)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return {}
    span = float(finite.max() - finite.min())
    step = next(m * 10**e for e in range(16) for m in (1, 2, 5) if span / (m * 10**e) <= 10)
    axis = dict(tickmode="linear", tick0=0, dtick=step)
    if span == 0:
        axis["range"] = [finite.min() - 0.5, finite.max() + 0.5]
    return axis


def _short_number(value: float, exponent_below: float = 1e-3) -> str:
    """1 → "1", 20 → "20", 5000 → "5k", 0.02 → "0.02", 1e-5 → "1e-5": a tick label read at a glance."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    if value < exponent_below:
        mantissa, exponent = f"{value:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:g}"


def _log_axis(values) -> dict:
    """A log axis with readable ticks, for Plotly's "1 2 5 10 2 5" (where the second 2 means 20).

    Ticks at 1, 2 and 5 times each power of ten over up to three decades of positive `values`,
    at powers of ten beyond that (every other one, or sparser, beyond eight decades), each written
    out in full ("20", "1k", "0.002"; "1e-5" style throughout when any tick is below 0.001)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if len(finite) == 0:
        return dict(type="log")
    first, last = math.floor(math.log10(finite.min())), math.ceil(math.log10(finite.max()))
    decades = max(last - first, 1)
    mantissas = (1, 2, 5) if decades <= 3 else (1,)
    stride = math.ceil(decades / 8)
    ticks = [tick for e in range(first, last + 1, stride) for m in mantissas if (tick := float(f"{m}e{e}")) <= 10**last]
    exponent_below = 1.0 if ticks[0] < 1e-3 else 1e-3
    return dict(type="log", tickmode="array", tickvals=ticks,
                ticktext=[_short_number(tick, exponent_below) for tick in ticks])

"""Charts of groups of runs (an ablation's factor levels, repeated seeds): mean ± std bands and effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

import cnnkit.explorer.plain_text as plain_text
from cnnkit.explorer.charts._axes import _count_axis
from cnnkit.explorer.charts._style import (OTHER, RUN_IN_HOVER, SPLIT_COLORS, _metric_label, _mode,
                                           _note, _run_colors, _style)


def _translucent(color: str, alpha: float = 0.2) -> str:
    red, green, blue = plotly.colors.hex_to_rgb(color) if color.startswith("#") else plotly.colors.unlabel_rgb(color)
    return f"rgba({red:.0f}, {green:.0f}, {blue:.0f}, {alpha})"


def band_curves(bands: pd.DataFrame, metric: str, x: str = "epoch") -> go.Figure:
    """One mean line per group with a ± std band around it: `bands` has columns group, `x`, mean,
    std and runs (`ablation_analysis.curve_bands`). Groups get colours in order of appearance."""
    label = _metric_label(metric)
    title = f"{label[:1].upper()}{label[1:]} per {x}, mean ± std over seeds"
    if bands.empty:
        return _note(title, f"no {label} recorded for these runs yet")
    percent = "accuracy" in metric
    value_format = ":.2%" if percent else ":.4f"
    groups = dict(tuple(bands.groupby("group", sort=False)))
    fig = go.Figure()
    for group, color in _run_colors(groups).items():
        part = groups[group].sort_values(x)
        xs, mean, std = part[x].to_numpy(float), part["mean"].to_numpy(float), part["std"].to_numpy(float)
        fig.add_scatter(x=np.concatenate([xs, xs[::-1]]), y=np.concatenate([mean + std, (mean - std)[::-1]]),
                        fill="toself", fillcolor=_translucent(color), line_width=0, hoverinfo="skip",
                        showlegend=False, legendgroup=str(group))
        fig.add_scatter(x=xs, y=mean, name=plain_text.plotly(group), mode=_mode(len(xs)), line_color=color,
                        legendgroup=str(group), customdata=np.stack([std, part["runs"].to_numpy(float)], axis=1),
                        hovertemplate=f"{RUN_IN_HOVER}<br>{x} %{{x}}<br>{label}: %{{y{value_format}}} ± "
                                      f"%{{customdata[0]{value_format}}} (%{{customdata[1]}} runs)<extra></extra>")
    fig.update_xaxes(title={"epoch": "Epoch"}.get(x, x), **_count_axis(bands[x]))
    fig.update_yaxes(title=label[:1].upper() + label[1:], tickformat=".0%" if percent else None)
    return _style(fig, title)


def effects_chart(effects: pd.DataFrame, metric: str) -> go.Figure:
    """Each factor level's effect on `metric` against its baseline as a dot with its 95 % interval
    (`ablation_analysis.main_effects`); a line at 0, no effect."""
    label = _metric_label(metric)
    title = f"Effect on {label} against each factor's first level, 95 % interval across seeds"
    if effects.empty:
        return _note(title, "no finished runs to measure effects on yet")
    names = [f"{row.factor}: {row.level} vs {row.baseline}" for row in effects.itertuples()]
    effect = effects["effect"].to_numpy(float)
    fig = go.Figure(go.Scatter(
        x=effect, y=names, mode="markers", marker=dict(size=10, color=SPLIT_COLORS["test"]),
        error_x=dict(type="data", symmetric=False, array=effects["high"].to_numpy(float) - effect,
                     arrayminus=effect - effects["low"].to_numpy(float)),
        hovertemplate="%{y}<br>effect %{x:.4g}<extra></extra>"))
    fig.add_vline(x=0, line_color=OTHER, line_dash="dash")
    fig.update_xaxes(title=f"Difference in {label}", tickformat=".1%" if "accuracy" in metric else None)
    fig.update_yaxes(autorange="reversed")
    return _style(fig, title, height=120 + 40 * len(names))

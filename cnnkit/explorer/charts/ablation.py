"""Charts of groups of runs (an ablation's factor levels, repeated seeds): mean ± std bands and effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

import cnnkit.explorer.plain_text as plain_text
from cnnkit.experiments import ablation_analysis
from cnnkit.explorer.charts._axes import _count_axis
from cnnkit.explorer.charts._style import (OTHER, RUN_IN_HOVER, SPLIT_COLORS, _metric_label, _mode,
                                           _note, _run_colors, _style)


def _translucent(color: str, alpha: float = 0.2) -> str:
    red, green, blue = plotly.colors.hex_to_rgb(color) if color.startswith("#") else plotly.colors.unlabel_rgb(color)
    return f"rgba({red:.0f}, {green:.0f}, {blue:.0f}, {alpha})"


def band_curves(bands: pd.DataFrame, metric: str, x: str = "epoch") -> go.Figure:
    """One mean line per group with a ± std band around it, cut to the values `metric` can take:
    `bands` has columns group, `x`, mean, std and runs (`ablation_analysis.curve_bands`). Groups get
    colours in order of appearance, their points too. A curve of one point shows its ± std as a bar,
    as a band of no width can't be seen; when every curve is one point (one epoch) the points stand
    side by side, not on top of one another."""
    label = _metric_label(metric)
    title = f"{label[:1].upper()}{label[1:]} per {x}, mean ± std over seeds"
    if bands.empty:
        return _note(title, f"no {label} recorded for these runs yet")
    percent = "accuracy" in metric
    value_format = ":.2%" if percent else ":.4f"
    low_value, high_value = ablation_analysis.bounds(metric)
    groups = dict(tuple(bands.groupby("group", sort=False)))
    fig = go.Figure()
    for group, color in _run_colors(groups).items():
        part = groups[group].sort_values(x)
        xs, mean, std = part[x].to_numpy(float), part["mean"].to_numpy(float), part["std"].to_numpy(float)
        upper, lower = np.minimum(mean + std, high_value), np.maximum(mean - std, low_value)
        bar = dict(type="data", symmetric=False, array=upper - mean, arrayminus=mean - lower, color=color)
        if len(xs) > 1:
            fig.add_scatter(x=np.concatenate([xs, xs[::-1]]), y=np.concatenate([upper, lower[::-1]]),
                            fill="toself", fillcolor=_translucent(color), line_width=0, hoverinfo="skip",
                            showlegend=False, legendgroup=str(group))
        fig.add_scatter(x=xs, y=mean, name=plain_text.plotly(group), mode=_mode(len(xs)), line_color=color,
                        marker=dict(color=color, size=10 if len(xs) == 1 else 6), error_y=bar if len(xs) == 1 else None,
                        legendgroup=str(group), customdata=np.stack([std, part["runs"].to_numpy(float)], axis=1),
                        hovertemplate=f"{RUN_IN_HOVER}<br>{x} %{{x}}<br>{label}: %{{y{value_format}}} ± "
                                      f"%{{customdata[0]{value_format}}} (%{{customdata[1]}} runs)<extra></extra>")
    fig.update_xaxes(title={"epoch": "Epoch"}.get(x, x), **_count_axis(bands[x]))
    fig.update_yaxes(title=label[:1].upper() + label[1:], tickformat=".0%" if percent else None)
    if all(len(part) == 1 for part in groups.values()):
        fig.update_layout(scattermode="group", scattergap=0.5)
    return _style(fig, title)


def effects_chart(effects: pd.DataFrame, metric: str) -> go.Figure:
    """Each factor level's effect on `metric` against its baseline as a dot with its 95 % interval
    (`ablation_analysis.main_effects`); a line at 0, no effect. An effect without an interval (too
    few seeds) is a hollow dot without a bar, and the chart says why. Each effect's seed noise (its
    `noise`, ± the seed-to-seed std) is a grey band around 0 on its row; an effect inside its band,
    smaller than its seed noise, is a grey diamond, and the title says so."""
    label = _metric_label(metric)
    title = f"Effect on {label} against each factor's first level, 95 % interval across seeds"
    if effects.empty:
        return _note(title, "no finished runs to measure effects on yet")
    names = [f"{row.factor}: {row.level} vs {row.baseline}" for row in effects.itertuples()]
    effects = effects.assign(noise=effects.get("noise", np.nan))
    effect, low, high, noise = (effects[column].to_numpy(float) for column in ("effect", "low", "high", "noise"))
    has_interval, within = ~np.isnan(low), ablation_analysis.within_noise(effects)
    value_format = ":+.2%" if "accuracy" in metric else ":+.4f"
    spread_format = "{:.2%}" if "accuracy" in metric else "{:.4f}"
    notes = [(ablation_analysis.interval_note(seeds) or "95 % interval")
             + (f"<br>seed noise ± {spread_format.format(spread)}" if spread == spread else "")
             + ("<br>smaller than its seed noise" if inside else "")
             for seeds, spread, inside in zip(effects["seeds"], noise, within)]
    color = np.where(within, OTHER, SPLIT_COLORS["test"])
    fig = go.Figure(go.Scatter(
        x=effect, y=names, mode="markers", customdata=notes, name="effect (95 % interval)",
        marker=dict(size=10, color=color, symbol=np.where(within, "diamond", np.where(has_interval, "circle", "circle-open")),
                    line=dict(width=2, color=color)),
        error_x=dict(type="data", symmetric=False, array=high - effect, arrayminus=effect - low),  # nan: no bar
        hovertemplate=f"%{{y}}<br>effect %{{x{value_format}}}<br>%{{customdata}}<extra></extra>"))
    fig.add_vline(x=0, line_color=OTHER, line_dash="dash")
    banded = np.flatnonzero(~np.isnan(noise))
    for row in banded:  # under the dots; the category axis puts row i at y = i
        fig.add_shape(type="line", x0=-noise[row], x1=noise[row], y0=row, y1=row, layer="below",
                      name="seed noise (± the seed-to-seed std)", showlegend=bool(row == banded[0]),
                      line=dict(width=14, color=_translucent(OTHER, 0.35)))
    fig.update_layout(showlegend=len(banded) > 0)
    if within.any():
        title += (f"<br><sup>Grey diamond: smaller than its seed noise ({within.sum()} of {len(within)} effects); more "
                  "seeds per cell would be needed to tell it from luck</sup>")
    if not has_interval.all():
        fewest = int(effects["seeds"][~has_interval].min())
        fig.add_annotation(text=f"No bar: {ablation_analysis.interval_note(fewest)}", xref="paper", yref="paper",
                           x=0, y=1, yanchor="bottom", xanchor="left", showarrow=False, font=dict(color=OTHER))
    fig.update_xaxes(title=f"Difference in {label}", tickformat=".1%" if "accuracy" in metric else None)
    fig.update_yaxes(autorange="reversed", type="category")
    return _style(fig, title, height=(160 if within.any() else 120) + 40 * len(names))

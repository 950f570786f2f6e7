"""Reliability diagrams (Guo et al. 2017): in each equal-width bin of top-label confidence, how often
the model was right, against the diagonal a calibrated model would follow; the images per bin in a
strip underneath (log scale: most images sit in the top bin), ECE in each panel's title."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import cnnkit.explorer.plain_text as plain_text
from cnnkit.explorer.charts._style import OTHER, RIGHT, WRONG, _note, _style

PER_ROW = 3  # panels side by side before a new row starts
PANEL_HEIGHT = 330  # a panel's bars and its count strip


def reliability_diagram(panels: Mapping[str, object], title: str = "Reliability diagram (test split)") -> go.Figure:
    """One panel per entry of `panels` (its name: a run, or "before scaling" / "after scaling"), each a
    `stats.calibration.CalibrationReport` (its `bins`: low, high, count, accuracy, confidence; its `ece`).
    Bars: each non-empty bin's accuracy; dashed: the diagonal; below: each bin's image count. Hover gives
    a bin's range, images, accuracy and mean confidence."""
    if not panels:
        return _note(title, "no calibration to show")
    columns = min(len(panels), PER_ROW)
    rows = math.ceil(len(panels) / columns)
    fig = make_subplots(rows=2 * rows, cols=columns, vertical_spacing=0.1 / rows, horizontal_spacing=0.06,
                        row_heights=[0.78, 0.22] * rows, shared_xaxes=True,
                        subplot_titles=_titles_by_row(panels, columns))
    for position, report in enumerate(panels.values()):
        row, col = 2 * (position // columns) + 1, position % columns + 1
        bins = report.bins[report.bins["count"] > 0]
        width = float(report.bins["high"].iloc[0] - report.bins["low"].iloc[0])
        centers = ((bins["low"] + bins["high"]) / 2).to_numpy(dtype=float)
        hover = np.stack([bins["low"], bins["high"], bins["count"], bins["confidence"]], axis=1)
        template = ("confidence %{customdata[0]:.2f}–%{customdata[1]:.2f}<br>%{customdata[2]:,} images<br>"
                    "accuracy %{y:.1%}<br>mean confidence %{customdata[3]:.1%}<extra></extra>")
        fig.add_bar(x=centers, y=bins["accuracy"].to_numpy(dtype=float), width=width, customdata=hover,
                    marker_color=RIGHT, name="accuracy", showlegend=position == 0, legendgroup="accuracy",
                    hovertemplate=template, row=row, col=col)
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=WRONG, dash="dash", width=1.5),
                        name="perfectly calibrated", showlegend=position == 0, legendgroup="diagonal",
                        hoverinfo="skip", row=row, col=col)
        fig.add_bar(x=centers, y=bins["count"].to_numpy(dtype=float), width=width, marker_color=OTHER,
                    name="images per bin", showlegend=position == 0, legendgroup="count",
                    hovertemplate="%{y:,} images<extra></extra>", row=row + 1, col=col)
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="accuracy" if col == 1 else None, row=row, col=col)
        fig.update_yaxes(type="log", title_text="images" if col == 1 else None, row=row + 1, col=col)
        fig.update_xaxes(range=[0, 1], tickformat=".0%", row=row, col=col)
        fig.update_xaxes(range=[0, 1], tickformat=".0%", title_text="confidence (top class)", row=row + 1, col=col)
    fig.update_layout(bargap=0)
    return _style(fig, title, height=80 + PANEL_HEIGHT * rows)


def _titles_by_row(panels: Mapping[str, object], columns: int) -> list[str]:
    """make_subplots' titles go row by row: each row of panels' titles, then an empty row for their strips."""
    titles = [f"{plain_text.plotly(name)} · ECE {report.ece:.2%}" for name, report in panels.items()]
    titles += [""] * (-len(titles) % columns)
    return [title for start in range(0, len(titles), columns) for title in (*titles[start:start + columns],
                                                                             *[""] * columns)]

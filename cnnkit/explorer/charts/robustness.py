"""A run's corruption sweep as a heat map: accuracy by corruption (rows) and severity (columns)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

import cnnkit.explorer.plain_text as plain_text
from cnnkit.explorer.charts._style import MARGIN, _note, _style

ROW_PX = 28  # height of one corruption's row


def corruption_heatmap(table: pd.DataFrame | None, name: str = "") -> go.Figure:
    """`table` (columns corruption, severity, accuracy, as `RunStore.corruption_table` gives it) as a heat
    map on a fixed 0-100 % scale, so runs' maps side by side read alike; each cell's accuracy written in it,
    corruptions in the sweep's order. The title names `name` (a run, as typed) and the mean corruption
    accuracy. No table: a note saying the run has no sweep."""
    title = f"Accuracy under corruptions{f' · {plain_text.plotly(name)}' if name else ''}"
    if table is None or table.empty:
        return _note(title, "No corruption sweep yet")
    grid = table.pivot(index="corruption", columns="severity", values="accuracy")
    grid = grid.loc[list(dict.fromkeys(table["corruption"]))]  # the sweep's order, top to bottom
    names = [row.replace("_", " ") for row in grid.index]
    severities = [f"severity {severity}" for severity in grid.columns]
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=severities, y=names, zmin=0, zmax=1, colorscale="RdYlGn",
        text=[[f"{value:.0%}" for value in row] for row in grid.to_numpy()], texttemplate="%{text}",
        hovertemplate="%{y}, %{x}: %{z:.1%} accurate<extra></extra>",
        colorbar=dict(thickness=12, tickformat=".0%", title=dict(text="accuracy")),
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(margin=dict(MARGIN, l=110))
    return _style(fig, f"{title}<br><sup>mean corruption accuracy {table['accuracy'].mean():.1%}</sup>",
                  height=MARGIN["t"] + MARGIN["b"] + ROW_PX * len(grid) + 40)

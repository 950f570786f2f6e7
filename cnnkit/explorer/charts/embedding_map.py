"""The embedding view: a WebGL scatter of a run's images on a plane, coloured by one of their columns."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from cnnkit.explorer.charts._style import RIGHT, WRONG, _note, _style

_FIXED = {"right": RIGHT, "wrong": WRONG, "suspected": WRONG, "-": "#bbbbbb"}


def embedding_scatter(points: pd.DataFrame, colour_by: str, title: str = "") -> go.Figure:
    """`points` (columns x, y, position and `colour_by`) as one Scattergl trace per value of `colour_by`,
    each point's `position` as its customdata (what a click reports)."""
    if not len(points):
        return _note(title, "no images to place")
    fig = go.Figure()
    for value, group in points.groupby(colour_by, sort=True):
        fig.add_trace(go.Scattergl(
            x=group["x"], y=group["y"], mode="markers", name=str(value), customdata=group["position"],
            marker={"size": 5, "opacity": 0.7, **({"color": _FIXED[value]} if value in _FIXED else {})},
            hovertemplate=f"{colour_by}: {value}<br>image %{{customdata}}<extra></extra>"))
    fig.update_xaxes(showticklabels=False, title="")
    fig.update_yaxes(showticklabels=False, title="", scaleanchor="x")
    return _style(fig, title=title or f"Coloured by {colour_by}", height=520)

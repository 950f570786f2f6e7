"""The data map (dataset cartography): one WebGL point per training example, variability across,
confidence up, coloured by correctness, with the three regions' borders and names."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnkit.explorer.charts._style import RIGHT, WRONG, _note, _style
from cnnkit.stats import cartography

# Where each region's name sits (variability, confidence), inside the region its thresholds bound.
_REGION_LABELS = {cartography.EASY: (0.02, 0.97, "left"), cartography.HARD: (0.02, 0.03, "left"),
                  cartography.AMBIGUOUS: (0.35, 0.5, "center")}


def data_map_scatter(confidence, variability, correctness, title: str = "Data map", marked=None) -> go.Figure:
    """Scattergl of the examples given (already filtered), point i being example i: selections on it
    name the positions of these arrays. Only x, y and colour travel per point, as float32 (Plotly
    sends them as binary), so 60,000 points stay fluid and small. `marked` (booleans, one per example):
    those drawn larger, ringed in black (a label audit's suspects)."""
    if len(confidence) == 0:
        return _note(title, "no examples to map")
    rings = dict(size=4) if marked is None else dict(
        size=np.where(marked, 9, 4).astype(np.float32),
        line=dict(color="black", width=np.where(marked, 1.5, 0).astype(np.float32)))
    fig = go.Figure(go.Scattergl(
        x=np.asarray(variability, dtype=np.float32), y=np.asarray(confidence, dtype=np.float32), mode="markers",
        marker=dict(color=np.asarray(correctness, dtype=np.float32), cmin=0, cmax=1, opacity=0.6,
                    colorscale=[[0, WRONG], [1, RIGHT]], colorbar=dict(title="correctness", tickformat=".0%"),
                    **rings),
        hovertemplate="variability %{x:.3f}<br>confidence %{y:.3f}<br>correct in %{marker.color:.0%} of epochs"
                      "<extra></extra>", showlegend=False))
    border = dict(color="#555", dash="dash", width=1)
    fig.add_shape(type="line", x0=cartography.AMBIGUOUS_VARIABILITY, x1=cartography.AMBIGUOUS_VARIABILITY, y0=0, y1=1,
                  line=border)
    fig.add_shape(type="line", x0=0, x1=cartography.AMBIGUOUS_VARIABILITY, y0=cartography.EASY_CONFIDENCE,
                  y1=cartography.EASY_CONFIDENCE, line=border)
    for region, (x, y, align) in _REGION_LABELS.items():
        fig.add_annotation(text=f"<b>{region}</b>", x=x, y=y, showarrow=False, xanchor=align,
                           bgcolor="rgba(255,255,255,0.7)")
    fig.update_xaxes(title_text="variability (std of p(label) across epochs)", range=[-0.01, 0.51])
    fig.update_yaxes(title_text="confidence (mean p(label))", range=[-0.02, 1.02])
    fig.update_layout(dragmode="select")
    return _style(fig, title, height=560)

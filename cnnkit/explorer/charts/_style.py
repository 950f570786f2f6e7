"""The one look every chart shares (template, margins, legend, colours) and the small helpers
all chart modules draw with: a note for missing data, line modes, metric labels, run colours."""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

from cnnkit.tracking import run_schema

TEMPLATE = "plotly_white"
# Every figure gets the template as plotly's default, which costs nothing at creation; setting it on
# each figure instead deep-copies and validates it, ~30 ms a figure (a page of 24 figures: 0.7 s).
pio.templates.default = TEMPLATE
SPLIT_COLORS = {"train": "#1f77b4", "validation": "#ff7f0e", "test": "#2ca02c"}
HIGHLIGHT = "#d62728"
FEW_POINTS = 30  # lines get markers up to this many points
MARGIN = dict(l=60, r=20, t=70, b=50)
RUN_COLORS = plotly.colors.qualitative.D3 + plotly.colors.qualitative.Dark24  # runs by order of appearance
RIGHT, WRONG, OTHER = "#1f77b4", HIGHLIGHT, "#a0a0a0"  # seed 003: blue right/true, red wrong/predicted
METRIC_LABELS = {run_schema.LOSS: "training loss", run_schema.VAL_LOSS: "validation loss",
                 run_schema.ACCURACY: "training accuracy", run_schema.VAL_ACCURACY: "validation accuracy",
                 run_schema.LR: "learning rate", run_schema.BATCH_LOSS: "batch loss", run_schema.BATCH_LR: "learning rate"}
TEXT_CLASSES = 20  # a class-by-class heatmap writes its values in the cells up to this many classes
RUN_IN_HOVER = "%{fullData.name}"  # a trace's (escaped) name in its hover: never the name put into the template


def _style(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    """The one look: white template (the default; Streamlit's theme recolours it, dark included), title
    top left, legend in rows under the plot at the figure's bottom edge (Plotly makes room for it):
    above the plot, a legend that wraps on a narrow page grows into the title."""
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left"),
        margin=MARGIN,
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left"),
        height=height,
    )
    return fig


def _note(title: str, message: str) -> go.Figure:
    """An empty figure with `message` in the middle, for data that isn't there (yet)."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=16))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, title, height=300)


def _mode(n_points: int) -> str:
    return "lines+markers" if n_points <= FEW_POINTS else "lines"


def _floats(values) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def _metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def _run_colors(runs) -> dict:
    """Run -> colour, in the order given (so the same runs in the same order keep their colours)."""
    return {run: RUN_COLORS[i % len(RUN_COLORS)] for i, run in enumerate(runs)}

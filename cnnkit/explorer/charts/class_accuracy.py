"""Each class's accuracy with its 95 % interval: which classes a run is sure to get right, and which
differences between classes its test images can't tell apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import cnnkit.explorer.plain_text as plain_text
from cnnkit.explorer.charts._style import SPLIT_COLORS, _note, _style


def class_accuracy(classes: pd.DataFrame) -> go.Figure:
    """A dot per class at its accuracy, with its 95 % Wilson interval as an error bar: `classes` has the
    columns of `accuracy_intervals.class_accuracy` (class, right, images, accuracy, low, high; fractions).
    A class without test images has no dot. The y axis is zoomed to the intervals, as small
    differences between good classes are what the chart is for."""
    title = "Accuracy of each class, with its 95 % interval over the class's test images"
    shown = classes.dropna(subset=["accuracy"])
    if shown.empty:
        return _note(title, "no test images to score the classes on")
    accuracy, low, high = (shown[column].to_numpy(float) * 100 for column in ("accuracy", "low", "high"))
    names = [plain_text.plotly(name) for name in shown["class"]]
    fig = go.Figure(go.Scatter(
        x=names, y=accuracy, mode="markers", name="accuracy (95 % interval)",
        marker=dict(size=9, color=SPLIT_COLORS["test"]),
        error_y=dict(type="data", symmetric=False, array=high - accuracy, arrayminus=accuracy - low, thickness=1.5),
        customdata=np.stack([low, high, shown["right"].to_numpy(float), shown["images"].to_numpy(float)], axis=1),
        hovertemplate="class %{x}<br>accuracy %{y:.2f} % (95 % interval %{customdata[0]:.2f} to "
                      "%{customdata[1]:.2f})<br>%{customdata[2]:,} of %{customdata[3]:,} test images<extra></extra>"))
    bottom = max(0.0, float(np.floor(low.min() - 1)))
    fig.update_xaxes(title="Class", type="category")
    fig.update_yaxes(title=f"Accuracy (axis starts at {bottom:g} %)", range=[bottom, 100.5], ticksuffix=" %")
    return _style(fig, title, height=360)

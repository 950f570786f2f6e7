"""Charts of one training run: learning curves, batch losses, the learning-rate schedule, the LR range test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnkit.explorer.charts._axes import _count_axis, _log_axis, _spans_decades, _value_range
from cnnkit.explorer.charts._style import HIGHLIGHT, SPLIT_COLORS, _floats, _mode, _note, _style
from cnnkit.explorer.charts._time import clocks, time_scale
from cnnkit.explorer.charts.smoothing import ema, moving_average
from cnnkit.tracking import run_schema


X_AXES = {"epochs": "epoch", "wall time": "time"}  # the pages' x-axis choice -> learning_curves' `x`


def learning_curves(epochs: pd.DataFrame, x: str = "epoch") -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, train and validation, against the epoch or,
    with `x` "time", the run's training clock (`elapsed_s`, in s, min or h; m:ss in the hover).

    `epochs` has a column `epoch` and any of `loss`, `val_loss`, `accuracy`, `val_accuracy`
    (accuracy as a fraction 0-1), and `elapsed_s` for the time axis; missing columns are skipped,
    NaNs leave gaps. On the time axis, epochs without a time are left out.
    """
    title = "Learning curves"
    metrics = [m for m in (run_schema.LOSS, run_schema.VAL_LOSS, run_schema.ACCURACY, run_schema.VAL_ACCURACY)
               if m in epochs]
    if epochs.empty or "epoch" not in epochs or not metrics:
        return _note(title, "no epochs yet")
    epochs = epochs.sort_values("epoch")
    if x == "time":
        if run_schema.ELAPSED_SECONDS not in epochs or epochs[run_schema.ELAPSED_SECONDS].isna().all():
            return _note(title, "no training times logged for this run: its curves are drawn per epoch only")
        epochs = epochs.dropna(subset=[run_schema.ELAPSED_SECONDS])
        seconds = epochs[run_schema.ELAPSED_SECONDS].to_numpy(dtype=float)
        scale, x_title = time_scale(seconds)
        xs, hover_x, axis = seconds / scale, "%{customdata} of training, epoch %{text}", dict(rangemode="tozero")
    else:
        xs = epochs["epoch"].to_numpy()
        x_title, hover_x, axis = "Epoch", "epoch %{x}", _count_axis(xs)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.1)
    in_legend = set()
    for metric in metrics:
        split = "validation" if metric.startswith("val_") else "train"
        quantity = metric.removeprefix("val_")
        value_format = ":.2%" if quantity == "accuracy" else ":.4f"
        fig.add_scatter(
            x=xs, y=epochs[metric].to_numpy(dtype=float), name=split, mode=_mode(len(xs)),
            line_color=SPLIT_COLORS[split], legendgroup=split, showlegend=split not in in_legend,
            customdata=clocks(epochs[run_schema.ELAPSED_SECONDS]) if x == "time" else None,
            text=epochs["epoch"].astype(int).astype(str).to_numpy() if x == "time" else None,
            hovertemplate=f"{hover_x}<br>{split} {quantity}: %{{y{value_format}}}<extra></extra>",
            row=1, col=1 if quantity == "loss" else 2,
        )
        in_legend.add(split)
    fig.update_xaxes(title=x_title, **axis)
    losses = epochs[[m for m in metrics if m.endswith("loss")]].to_numpy(dtype=float)
    accuracies = epochs[[m for m in metrics if m.endswith("accuracy")]].to_numpy(dtype=float)
    fig.update_yaxes(title_text="Loss", range=_value_range(losses, low=0), row=1, col=1)
    fig.update_yaxes(title_text="Accuracy", tickformat=".0%", range=_value_range(accuracies, 0, 1, min_span=0.1),
                     row=1, col=2)
    return _style(fig, title)


def batch_loss(batches: pd.DataFrame, log_x: bool = True, smoothing: int = 1) -> go.Figure:
    """Training loss of every batch against the optimizer step, faint, plus its moving average.

    `batches` has columns `step` (1, 2, ...) and `batch_loss`. With `log_x` (as in seed 002's
    semilogx plot) steps below 1 can't be placed and are left out. `smoothing` > 1 adds the
    trailing moving average over that many batches.
    """
    title = "Loss of each training batch"
    if batches.empty:
        return _note(title, "no batches yet")
    batches = batches.sort_values("step")
    steps, losses = batches["step"].to_numpy(dtype=float), batches[run_schema.BATCH_LOSS].to_numpy(dtype=float)
    averaged = moving_average(losses, smoothing)
    keep = steps > 0 if log_x else np.ones(len(steps), bool)
    fig = go.Figure()
    fig.add_scatter(x=steps[keep], y=losses[keep], name="batch loss", mode=_mode(keep.sum()),
                    line=dict(color=SPLIT_COLORS["train"], width=1), opacity=0.35,
                    hovertemplate="step %{x}<br>batch loss %{y:.4f}<extra></extra>")
    if smoothing > 1:
        fig.add_scatter(x=steps[keep], y=averaged[keep], name=f"average of last {smoothing} batches",
                        mode="lines", line=dict(color=SPLIT_COLORS["train"], width=2.5),
                        hovertemplate=f"step %{{x}}<br>average of last {smoothing}: %{{y:.4f}}<extra></extra>")
    fig.update_xaxes(title="Optimizer step (batch)" + (", log scale" if log_x else ""),
                     **(_log_axis(steps[keep]) if log_x else dict(type="linear", **_count_axis(steps[keep]))))
    fig.update_yaxes(title="Loss", range=_value_range(losses[keep], low=0))
    return _style(fig, title)


def learning_rate(steps, rates, epoch_length: int | None = None, title: str = "Learning rate") -> go.Figure:
    """The learning rate at each optimizer step (a planned schedule or a live run's values).

    `steps` and `rates`: equal-length 1-D sequences. `epoch_length` (steps per epoch) adds light
    dotted lines at epoch boundaries. The y axis turns logarithmic when the positive rates span
    more than two decades.
    """
    steps, rates = _floats(steps), _floats(rates)
    if len(steps) == 0:
        return _note(title, "no learning-rate values yet")
    fig = go.Figure()
    fig.add_scatter(x=steps, y=rates, name="learning rate", mode=_mode(len(steps)),
                    line_color=SPLIT_COLORS["train"], hovertemplate="step %{x}<br>learning rate %{y:.3g}<extra></extra>")
    x_title = "Optimizer step (batch)"
    if epoch_length:
        boundaries = np.arange(epoch_length, steps.max() + 1e-9, epoch_length)
        stride = max(1, math.ceil(len(boundaries) / 50))  # at most ~50 lines
        fig.update_layout(shapes=[
            dict(type="line", x0=b, x1=b, y0=0, y1=1, yref="paper", layer="below",
                 line=dict(color="lightgray", width=1, dash="dot"))
            for b in boundaries[stride - 1 :: stride]
        ])
        x_title += f"; dotted lines: end of each epoch ({epoch_length} steps)"
    fig.update_xaxes(title=x_title, **_count_axis(steps))
    finite = rates[np.isfinite(rates)]
    log_y = _spans_decades(finite)
    fig.update_yaxes(title="Learning rate" + (" (log scale)" if log_y else ""),
                     **(_log_axis(finite) if log_y else dict(type="linear", exponentformat="e")))
    if not log_y and len(finite) and finite.min() >= 0:
        fig.update_yaxes(range=[0, finite.max() * 1.15 or 1])  # from zero, so a constant rate reads as itself
    return _style(fig, title)


def lr_finder(learning_rates, losses, steepest: float | None = None, lower: float | None = None,
              upper: float | None = None) -> go.Figure:
    """Loss against learning rate from an LR range test, log x axis.

    `learning_rates` and `losses`: equal-length 1-D sequences (non-finite losses and rates <= 0, as
    at the end of a diverging test, are left out). Draws the raw loss, its bias-corrected EMA
    (beta 0.9), a shaded band over [lower, upper] and a "suggested" marker at `steepest` on the
    smoothed curve. The y axis stops at twice the first smoothed loss so the divergence doesn't
    flatten the interesting part.
    """
    title = "Learning-rate range test"
    lrs, raw = _floats(learning_rates), _floats(losses)
    keep = np.isfinite(raw) & np.isfinite(lrs) & (lrs > 0)
    lrs, raw = lrs[keep], raw[keep]
    if len(lrs) == 0:
        return _note(title, "no range-test results yet")
    order = np.argsort(lrs, kind="stable")
    lrs, raw = lrs[order], raw[order]
    smoothed = ema(raw)
    fig = go.Figure()
    fig.add_scatter(x=lrs, y=raw, name="loss", mode=_mode(len(lrs)), opacity=0.35,
                    line=dict(color=SPLIT_COLORS["train"], width=1),
                    hovertemplate="learning rate %{x:.2e}<br>loss %{y:.4f}<extra></extra>")
    fig.add_scatter(x=lrs, y=smoothed, name="smoothed loss", mode="lines",
                    line=dict(color=SPLIT_COLORS["train"], width=2.5),
                    hovertemplate="learning rate %{x:.2e}<br>smoothed loss %{y:.4f}<extra></extra>")
    if lower is not None and upper is not None:
        fig.add_shape(type="rect", x0=lower, x1=upper, y0=0, y1=1, yref="paper", layer="below",
                      fillcolor=SPLIT_COLORS["test"], opacity=0.15, line_width=0,
                      name=f"suggested range {lower:.1e} to {upper:.1e}", showlegend=True)
    if steepest is not None:
        at = float(np.interp(np.log10(steepest), np.log10(lrs), smoothed))
        fig.add_scatter(x=[steepest], y=[at], name="suggested", mode="markers+text",
                        text=[f"suggested {steepest:.1e}"], textposition="top center",
                        marker=dict(color=HIGHLIGHT, size=12, symbol="circle"),
                        hovertemplate="suggested learning rate %{x:.2e}<br>smoothed loss %{y:.4f}<extra></extra>")
    fig.update_xaxes(title="Learning rate (log scale)", **_log_axis(lrs))
    top = min(raw.max(), 2 * smoothed[0]) if smoothed[0] > 0 else raw.max()
    bottom = raw.min()
    pad = 0.05 * (top - bottom) or 0.05 * abs(top) or 1.0
    fig.update_yaxes(title="Training loss", range=[bottom - pad, top + pad])
    return _style(fig, title)

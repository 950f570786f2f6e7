"""Plotly figures for the explorer: plain data (DataFrames, numpy arrays, lists) in, a Figure out.

Pure functions: no Keras, MLflow or Streamlit here. Every figure goes through `_style`, so all
share one look (template, margins, legend above the plot), and an empty input gives a figure
that says what is missing instead of raising.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TEMPLATE = "plotly_white"
SPLIT_COLORS = {"train": "#1f77b4", "validation": "#ff7f0e", "test": "#2ca02c"}
HIGHLIGHT = "#d62728"
FEW_POINTS = 30  # lines get markers up to this many points
IMAGE_WIDTH_PX = 720  # width an image montage is assumed to get on the page, for its height
MAX_TILE_PX = 160  # a single image is not blown up beyond this
MARGIN = dict(l=60, r=20, t=70, b=50)


# ---- shared helpers --------------------------------------------------------------------


def _style(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    """The one look: white template, title top left, legend in a row above the plot on the right."""
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=title, x=0.01, xanchor="left"),
        margin=MARGIN,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
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


def moving_average(values, window: int) -> np.ndarray:
    """Trailing moving average, same length as `values`: point i averages points i-window+1..i
    (fewer at the start). NaNs are skipped; a window with no numbers gives NaN. window 1 = copy."""
    values = _floats(values)
    if window < 1:
        raise ValueError("window must be at least 1")
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    end = np.arange(1, len(values) + 1)
    start = np.maximum(0, end - window)
    n = counts[end] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[end] - sums[start]) / n, np.nan)


def ema(values, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (what the LR range test smooths its loss with)."""
    values = _floats(values)
    out, averaged = np.empty(len(values)), 0.0
    for i, value in enumerate(values):
        averaged = beta * averaged + (1 - beta) * value
        out[i] = averaged / (1 - beta ** (i + 1))
    return out


# ---- data --------------------------------------------------------------------------------


def class_distribution(counts: pd.DataFrame) -> go.Figure:
    """Grouped bars: images per class, one colour per split.

    `counts` has one row per (split, class) with columns `split` (train/validation/test),
    `class` (name or number) and `count`. Classes keep their order of first appearance.
    """
    title = "Images per class in each split"
    if counts.empty:
        return _note(title, "no images counted")
    classes = [str(c) for c in pd.unique(counts["class"])]
    splits = [s for s in SPLIT_COLORS if s in set(counts["split"])]
    splits += [s for s in pd.unique(counts["split"]) if s not in splits]
    fig = go.Figure()
    for split in splits:
        rows = counts[counts["split"] == split]
        total = rows["count"].sum()
        fig.add_bar(
            x=rows["class"].astype(str).to_numpy(),
            y=rows["count"].to_numpy(),
            name=split,
            marker_color=SPLIT_COLORS.get(split),
            customdata=(rows["count"] / total if total else rows["count"] * 0.0).to_numpy(),
            hovertemplate=f"class %{{x}}<br>{split}: %{{y}} images<br>%{{customdata:.1%}} of {split}<extra></extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="Class", type="category", categoryorder="array", categoryarray=classes)
    fig.update_yaxes(title="Number of images")
    return _style(fig, title)


# ---- images ------------------------------------------------------------------------------


def _as_uint8(images: np.ndarray) -> np.ndarray:
    """(N,H,W), (N,H,W,1) or (N,H,W,3) -> (N,H,W,C) uint8 with C 1 or 3."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected images shaped (N, H, W, 1 or 3), got {images.shape}")
    if images.dtype != np.uint8:
        images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return images


def image_grid(
    images: np.ndarray,
    titles: list[str] | None = None,
    columns: int = 10,
    row_labels: list[str] | None = None,
    *,
    title: str = "",
    gap: int = 2,
) -> go.Figure:
    """Images tiled row by row into ONE `go.Image` (fast even for hundreds of tiles).

    `images`: (N, H, W, C) with C 1 (gray, shown gray) or 3, values 0-255 (uint8; floats are rounded
    and clipped). `titles`: up to N strings, "" for none; a row with any title gets a white band
    above it to hold them. `row_labels`: one string per row, written left of the row. Tiles are
    `gap` white pixels apart; `columns` is capped at N.
    """
    if len(images) == 0:
        return _note(title or "Images", "no images to show")
    tiles = _as_uint8(images)
    gray = tiles.shape[-1] == 1
    tiles = np.repeat(tiles, 3, axis=-1) if gray else tiles
    n, h, w, _ = tiles.shape
    cols = max(1, min(columns, n))
    rows = math.ceil(n / cols)
    titles = list(titles or []) + [""] * max(0, n - len(titles or []))
    band = max(3, math.ceil(0.3 * h))
    bands = [band if any(titles[r * cols : (r + 1) * cols]) else 0 for r in range(rows)]
    tops = np.cumsum([b + (h + gap if r else 0) for r, b in enumerate(bands)])  # first pixel row of each row
    montage = np.full((tops[-1] + h, cols * (w + gap) - gap, 3), 255, dtype=np.uint8)
    annotations = []
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = tops[r], c * (w + gap)
        montage[top : top + h, left : left + w] = tiles[i]
        if titles[i]:
            annotations.append(dict(x=left + (w - 1) / 2, y=float(top - band / 2 - 0.5), text=str(titles[i]),
                                    showarrow=False, font=dict(size=11)))
    annotations += [dict(x=0, xref="x domain", xanchor="right", xshift=-6, y=float(top + (h - 1) / 2),
                         text=str(label), showarrow=False, font=dict(size=11))
                    for top, label in zip(tops, row_labels or [])]
    fig = go.Figure(layout=dict(annotations=annotations))
    fig.add_trace(go.Image(
        z=montage,
        hovertemplate=("gray value %{color[0]}" if gray else "RGB %{z}") + "<extra></extra>",
    ))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain", scaleanchor="x", autorange="reversed")
    scale = min(IMAGE_WIDTH_PX / montage.shape[1], MAX_TILE_PX / max(h, w))
    margin = dict(t=50 if title else 10, b=10, r=10,
                  l=12 + 7 * max((len(str(s)) for s in row_labels), default=0) if row_labels else 10)
    fig = _style(fig, title, height=int(montage.shape[0] * scale) + margin["t"] + margin["b"])
    return fig.update_layout(margin=margin)


def samples_by_class(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    per_class: int = 5,
    max_classes: int = 20,
    seed: int = 0,
) -> go.Figure:
    """`per_class` random images of each class, one column per class, class name on top.

    `images`: (N, H, W, C) as for `image_grid`; `labels`: (N,) class indices into `class_names`.
    Only the first `max_classes` classes are shown (the title says so). A class with fewer images
    leaves blank tiles; the same `seed` picks the same images.
    """
    shown = list(class_names)[:max_classes]
    title = "Random examples of each class"
    if len(shown) < len(class_names):
        title += f" (first {len(shown)} of {len(class_names)} classes)"
    if len(images) == 0 or not shown:
        return _note(title, "no images to show")
    labels = np.asarray(labels).ravel()
    rng = np.random.default_rng(seed)
    picks = []
    for c in range(len(shown)):
        members = np.flatnonzero(labels == c)
        picks.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    tiles = _as_uint8(images)
    grid = np.full((per_class, len(shown), *tiles.shape[1:]), 255, dtype=np.uint8)
    for c, chosen in enumerate(picks):
        grid[: len(chosen), c] = tiles[chosen]
    titles = [str(name) for name in shown] + [""] * (len(shown) * (per_class - 1))
    return image_grid(grid.reshape(-1, *tiles.shape[1:]), titles, columns=len(shown), title=title)


# ---- training curves ---------------------------------------------------------------------


def learning_curves(epochs: pd.DataFrame) -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, train and validation.

    `epochs` has a column `epoch` and any of `loss`, `val_loss`, `accuracy`, `val_accuracy`
    (accuracy as a fraction 0-1); missing columns are skipped, NaNs leave gaps.
    """
    title = "Learning curves"
    metrics = [m for m in ("loss", "val_loss", "accuracy", "val_accuracy") if m in epochs]
    if epochs.empty or "epoch" not in epochs or not metrics:
        return _note(title, "no epochs yet")
    epochs = epochs.sort_values("epoch")
    x = epochs["epoch"].to_numpy()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.1)
    in_legend = set()
    for metric in metrics:
        split = "validation" if metric.startswith("val_") else "train"
        quantity = metric.removeprefix("val_")
        value_format = ":.2%" if quantity == "accuracy" else ":.4f"
        fig.add_scatter(
            x=x, y=epochs[metric].to_numpy(dtype=float), name=split, mode=_mode(len(x)),
            line_color=SPLIT_COLORS[split], legendgroup=split, showlegend=split not in in_legend,
            hovertemplate=f"epoch %{{x}}<br>{split} {quantity}: %{{y{value_format}}}<extra></extra>",
            row=1, col=1 if quantity == "loss" else 2,
        )
        in_legend.add(split)
    fig.update_xaxes(title="Epoch", dtick=1 if x.max() - x.min() <= 20 else None)
    fig.update_yaxes(title_text="Loss", row=1, col=1)
    fig.update_yaxes(title_text="Accuracy", tickformat=".0%", row=1, col=2)
    return _style(fig, title).update_layout(legend_y=1.08)  # clear of the subplot titles


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
    steps, losses = batches["step"].to_numpy(dtype=float), batches["batch_loss"].to_numpy(dtype=float)
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
                     type="log" if log_x else "linear")
    fig.update_yaxes(title="Loss")
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
    fig.update_xaxes(title=x_title)
    finite = rates[np.isfinite(rates)]
    log_y = len(finite) > 0 and finite.min() > 0 and finite.max() / finite.min() > 100
    fig.update_yaxes(title="Learning rate" + (" (log scale)" if log_y else ""),
                     type="log" if log_y else "linear", exponentformat="e")
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
    fig.update_xaxes(title="Learning rate (log scale)", type="log", exponentformat="e")
    top = min(raw.max(), 2 * smoothed[0]) if smoothed[0] > 0 else raw.max()
    bottom = raw.min()
    pad = 0.05 * (top - bottom) or 0.05 * abs(top) or 1.0
    fig.update_yaxes(title="Training loss", range=[bottom - pad, top + pad])
    return _style(fig, title)

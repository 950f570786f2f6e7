"""Plotly figures for the explorer: plain data (DataFrames, numpy arrays, lists) in, a Figure out.

Pure functions: no Keras, MLflow or Streamlit here. Every figure goes through `_style`, so all
share one look (template, margins, legend above the plot), and an empty input gives a figure
that says what is missing instead of raising.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio
from PIL import Image
from plotly.subplots import make_subplots

from cnnkit.explorer import plain_text
from cnnkit.tracking import run_schema

TEMPLATE = "plotly_white"
# Every figure gets the template as plotly's default, which costs nothing at creation; setting it on
# each figure instead deep-copies and validates it, ~30 ms a figure (a page of 24 figures: 0.7 s).
pio.templates.default = TEMPLATE
SPLIT_COLORS = {"train": "#1f77b4", "validation": "#ff7f0e", "test": "#2ca02c"}
HIGHLIGHT = "#d62728"
FEW_POINTS = 30  # lines get markers up to this many points
IMAGE_WIDTH_PX = 720  # width an image montage is assumed to get on the page (default), for its height
MAX_TILE_PX = 160  # a single image is not blown up beyond this
MARGIN = dict(l=60, r=20, t=70, b=50)
RUN_COLORS = plotly.colors.qualitative.D3 + plotly.colors.qualitative.Dark24  # runs by order of appearance
RIGHT, WRONG, OTHER = "#1f77b4", HIGHLIGHT, "#a0a0a0"  # seed 003: blue right/true, red wrong/predicted
RESULT_METRICS = {  # results_bars: column -> (legend label, colour)
    run_schema.FINAL_ACCURACY: ("train accuracy (last epoch)", SPLIT_COLORS["train"]),
    run_schema.FINAL_VAL_ACCURACY: ("validation accuracy (last epoch)", SPLIT_COLORS["validation"]),
    run_schema.TEST_ACCURACY: ("test accuracy", SPLIT_COLORS["test"]),
    run_schema.TEST_TOP3_ACCURACY: ("test top-3 accuracy", "#9467bd"),
    run_schema.TEST_TOP5_ACCURACY: ("test top-5 accuracy", "#8c564b"),
}
METRIC_LABELS = {run_schema.LOSS: "training loss", run_schema.VAL_LOSS: "validation loss",
                 run_schema.ACCURACY: "training accuracy", run_schema.VAL_ACCURACY: "validation accuracy",
                 run_schema.LR: "learning rate", run_schema.BATCH_LOSS: "batch loss", run_schema.BATCH_LR: "learning rate"}
TEXT_CLASSES = 20  # a class-by-class heatmap writes its values in the cells up to this many classes
UPRIGHT_BAR_LABELS = 15  # results bars write their values across up to this many bars, standing up beyond
RUN_NAME_LINE = 22  # characters per line of a run's name under its bars
RUN_IN_HOVER = "%{fullData.name}"  # a trace's (escaped) name in its hover: never the name put into the template
MIN_TITLED_TILE_PX = 40  # feature maps get their channel number above them when tiles are at least this wide


# ---- shared helpers --------------------------------------------------------------------


def _style(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    """The one look: white template (the default), title top left, legend in a row above the plot on the right."""
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left"),
        margin=MARGIN,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
        height=height,
    )
    return fig


def _legend_below(fig: go.Figure) -> go.Figure:
    """The legend in rows under the plot, at the figure's bottom edge (Plotly makes room for it):
    for legends of runs, whose long names would wrap above the plot into the title."""
    return fig.update_layout(legend=dict(yref="container", y=0, yanchor="bottom", x=0, xanchor="left"))


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


def _spans_decades(values, decades: float = 2) -> bool:
    """Whether finite `values` are all positive and span more than `decades` powers of ten (log axis)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite)]
    return len(finite) > 0 and finite.min() > 0 and finite.max() / finite.min() > 10**decades


def _value_range(values, low: float | None = None, high: float | None = None,
                 min_span: float | None = None) -> list[float] | None:
    """A linear axis range around the finite `values`, 5 % of their span wider on each side (so
    end markers stay whole) but never more than that beyond `low` and `high` (e.g. 0 and 1 for
    accuracy). Equal values (a single epoch) get a window `min_span` wide (default: 20 % of the
    value, or 1 around 0) instead of Plotly's ±1, which puts a 13 % accuracy on an axis from
    -87 % to 113 %. None without finite values (Plotly's autorange then)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return None
    bottom, top = float(finite.min()), float(finite.max())
    if top == bottom:
        half = (min_span or 0.2 * abs(top) or 1.0) / 2
        bottom, top = bottom - half, top + half
        if low is not None and bottom < low:
            bottom, top = low, low + 2 * half
        if high is not None and top > high:
            bottom, top = max(high - 2 * half, low if low is not None else -math.inf), high
    pad = 0.05 * (top - bottom)
    bottom, top = bottom - pad, top + pad
    if low is not None:
        bottom = max(bottom, low - pad)
    if high is not None:
        top = min(top, high + pad)
    return [bottom, top]


def _count_axis(values) -> dict:
    """Axis settings for whole numbers (epochs, steps): ticks only on whole numbers, at most about
    ten (1, 2 or 5 times a power of ten apart), where Plotly would write 1.5 between epochs 1 and
    2; a single value gets a range of ±0.5 around it instead of Plotly's ±1 (which shows epoch 0)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return {}
    span = float(finite.max() - finite.min())
    step = next(m * 10**e for e in range(16) for m in (1, 2, 5) if span / (m * 10**e) <= 10)
    axis = dict(tickmode="linear", tick0=0, dtick=step)
    if span == 0:
        axis["range"] = [finite.min() - 0.5, finite.max() + 0.5]
    return axis


def _short_number(value: float, exponent_below: float = 1e-3) -> str:
    """1 → "1", 20 → "20", 5000 → "5k", 0.02 → "0.02", 1e-5 → "1e-5": a tick label read at a glance."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    if value < exponent_below:
        mantissa, exponent = f"{value:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:g}"


def _log_axis(values) -> dict:
    """A log axis with readable ticks, for Plotly's "1 2 5 10 2 5" (where the second 2 means 20).

    Ticks at 1, 2 and 5 times each power of ten over up to three decades of positive `values`,
    at powers of ten beyond that (every other one, or sparser, beyond eight decades), each written
    out in full ("20", "1k", "0.002"; "1e-5" style throughout when any tick is below 0.001)."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if len(finite) == 0:
        return dict(type="log")
    first, last = math.floor(math.log10(finite.min())), math.ceil(math.log10(finite.max()))
    decades = max(last - first, 1)
    mantissas = (1, 2, 5) if decades <= 3 else (1,)
    stride = math.ceil(decades / 8)
    ticks = [tick for e in range(first, last + 1, stride) for m in mantissas if (tick := float(f"{m}e{e}")) <= 10**last]
    exponent_below = 1.0 if ticks[0] < 1e-3 else 1e-3
    return dict(type="log", tickmode="array", tickvals=ticks,
                ticktext=[_short_number(tick, exponent_below) for tick in ticks])


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


def png(image: np.ndarray) -> bytes:
    """An (H, W), (H, W, 1) or (H, W, 3) image, values 0-255, as PNG bytes: how images travel to the
    browser (a photo's pixels as plotly JSON numbers are tens of times bigger)."""
    pixels = _as_uint8(np.asarray(image)[None])[0]
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_source(image: np.ndarray) -> str:
    """`image` as a PNG data URL, for `go.Image(source=...)`."""
    return "data:image/png;base64," + base64.b64encode(png(image)).decode("ascii")


def image_grid(
    images: np.ndarray,
    titles: list[str] | None = None,
    columns: int = 10,
    row_labels: list[str] | None = None,
    *,
    title: str = "",
    gap: int = 2,
    title_colors: list[str | None] | None = None,
    width: int = IMAGE_WIDTH_PX,
) -> go.Figure:
    """Images tiled row by row into ONE `go.Image` (fast even for hundreds of tiles), sent as a PNG.

    `images`: (N, H, W, C) with C 1 (gray, shown gray) or 3, values 0-255 (uint8; floats are rounded
    and clipped). `titles`: up to N strings, "" for none, "\n" for a line break; a row with any title
    gets a white band above it, one line high per line of its longest title. `title_colors`: up to N
    CSS colours for the titles, None for the default. Titles shrink (down to 8 px) to fit their
    tile's width. `row_labels`: one string per row, written left of the row. Tiles are `gap` white
    pixels apart; `columns` is capped at N. `width`: the screen pixels the figure will get (a
    half-width column gets less), from which its height follows, so no white band is left above.
    """
    if len(images) == 0:
        return _note(title or "Images", "no images to show")
    tiles = _as_uint8(images)
    gray = tiles.shape[-1] == 1
    n, h, w, channels = tiles.shape
    cols = max(1, min(columns, n))
    rows = math.ceil(n / cols)
    titles = [str(t).replace("\n", "<br>") for t in (titles or [])][:n]
    titles += [""] * (n - len(titles))
    colors = list(title_colors or [])[:n]
    colors += [None] * (n - len(colors))
    lines = [t.count("<br>") + 1 if t else 0 for t in titles]
    line = max(3, math.ceil(0.3 * h))  # image pixels per line of title
    bands = [line * max(lines[r * cols : (r + 1) * cols]) for r in range(rows)]
    tops = np.cumsum([b + (h + gap if r else 0) for r, b in enumerate(bands)])  # first pixel row of each row
    montage = np.full((tops[-1] + h, cols * (w + gap) - gap, channels), 255, dtype=np.uint8)
    scale = min(width / montage.shape[1], MAX_TILE_PX / max(h, w))  # screen pixels per image pixel
    longest = max((len(part) for t in titles for part in t.split("<br>")), default=0)
    size = int(np.clip(w * scale / (0.6 * max(longest, 1)), 8, 11))  # ~0.6 em per character
    annotations = []
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = tops[r], c * (w + gap)
        montage[top : top + h, left : left + w] = tiles[i]
        if titles[i]:
            annotations.append(dict(x=left + (w - 1) / 2, y=float(top - bands[r] / 2 - 0.5), text=titles[i],
                                    showarrow=False, font=dict(size=size, color=colors[i])))
    annotations += [dict(x=0, xref="x domain", xanchor="right", xshift=-6, y=float(top + (h - 1) / 2),
                         text=str(label), showarrow=False, font=dict(size=11))
                    for top, label in zip(tops, row_labels or [])]
    fig = go.Figure(layout=dict(annotations=annotations))
    fig.add_trace(go.Image(
        source=_png_source(montage),
        hovertemplate=("gray value %{color[0]}" if gray else "RGB %{color[0]}, %{color[1]}, %{color[2]}")
        + "<extra></extra>",
    ))
    fig.update_xaxes(visible=False, constrain="domain")
    # In a column narrower than `width` the picture shrinks to fit: keep it under its title, the
    # spare height below it, rather than centred between white bands.
    fig.update_yaxes(visible=False, constrain="domain", scaleanchor="x", autorange="reversed", constraintoward="top")
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
    metrics = [m for m in (run_schema.LOSS, run_schema.VAL_LOSS, run_schema.ACCURACY, run_schema.VAL_ACCURACY)
               if m in epochs]
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
    fig.update_xaxes(title="Epoch", **_count_axis(x))
    losses = epochs[[m for m in metrics if m.endswith("loss")]].to_numpy(dtype=float)
    accuracies = epochs[[m for m in metrics if m.endswith("accuracy")]].to_numpy(dtype=float)
    fig.update_yaxes(title_text="Loss", range=_value_range(losses, low=0), row=1, col=1)
    fig.update_yaxes(title_text="Accuracy", tickformat=".0%", range=_value_range(accuracies, 0, 1, min_span=0.1),
                     row=1, col=2)
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


# ---- comparing runs ----------------------------------------------------------------------


def _metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def _run_colors(runs) -> dict:
    """Run -> colour, in the order given (so the same runs in the same order keep their colours)."""
    return {run: RUN_COLORS[i % len(RUN_COLORS)] for i, run in enumerate(runs)}


def compare_curves(history: pd.DataFrame, metric: str, x: str = "epoch", smoothing: int = 1,
                   log_x: bool = False, continued: Mapping[str, str] | None = None) -> go.Figure:
    """One line per run of `metric` against `x`, for comparing runs.

    `history` is long: columns `run` (display name), `x` (e.g. epoch or step) and `metric` (e.g.
    loss, val_accuracy, lr, batch_loss); other columns are ignored. Rows with no `metric` value are
    dropped, then each run's values (sorted by `x`) are smoothed with the trailing `moving_average`
    over `smoothing` points. Runs get colours in order of first appearance. With `log_x` (as seed
    002 plots batch loss) x values <= 0 are left out. Accuracies are shown as percent; a learning
    rate spanning more than two decades gets a log y axis. `continued` maps a run (a fork's parent up
    to the fork's epoch) to the run that continues it (the fork): it is drawn dashed in that run's colour.
    """
    label = _metric_label(metric)
    title = f"{label[:1].upper()}{label[1:]} per {x}" + (f", average of the last {smoothing} points" if smoothing > 1 else "")
    if history.empty or not {"run", x, metric} <= set(history.columns):
        return _note(title, f"no {label} recorded for these runs")
    rows = history[["run", x, metric]].copy()
    rows[x] = pd.to_numeric(rows[x], errors="coerce")
    rows[metric] = pd.to_numeric(rows[metric], errors="coerce")
    rows = rows.dropna(subset=[x, metric])
    if log_x:
        rows = rows[rows[x] > 0]
    if rows.empty:
        return _note(title, f"no {label} recorded for these runs")
    percent = "accuracy" in metric
    value_format = ":.2%" if percent else ":.3g" if label == "learning rate" else ":.4f"
    groups = dict(tuple(rows.groupby("run", sort=False)))
    fig = go.Figure()
    drawn = []
    continued = continued or {}
    colors = _run_colors([run for run in groups if run not in continued])
    colors.update({run: colors.get(continued[run], RUN_COLORS[0]) for run in groups if run in continued})
    for run, color in colors.items():
        part = groups[run].sort_values(x, kind="stable")
        xs = part[x].to_numpy(dtype=float)
        ys = moving_average(part[metric], smoothing)
        drawn.append(ys)
        fig.add_scatter(x=xs, y=ys, name=plain_text.plotly(run), mode=_mode(len(xs)),
                        line_dash="dash" if run in continued else None, line_color=color,
                        hovertemplate=f"{RUN_IN_HOVER}<br>{x} %{{x}}<br>{label}: %{{y{value_format}}}<extra></extra>")
    x_title = {"epoch": "Epoch", "step": "Optimizer step (batch)"}.get(x, x)
    fig.update_xaxes(title=x_title + (", log scale" if log_x else ""),
                     **(_log_axis(rows[x]) if log_x else dict(type="linear", **_count_axis(rows[x]))))
    log_y = label == "learning rate" and _spans_decades(rows[metric])
    drawn = np.concatenate(drawn)
    if log_y:
        y_axis = _log_axis(drawn)
    else:
        y_axis = dict(type="linear", range=_value_range(drawn, 0, 1, min_span=0.1) if percent else _value_range(drawn, low=0))
    fig.update_yaxes(title=label[:1].upper() + label[1:] + (" (log scale)" if log_y else ""),
                     tickformat=".0%" if percent else None, **y_axis)
    return _legend_below(_style(fig, title))


def results_bars(results: pd.DataFrame) -> go.Figure:
    """Grouped bars of each run's accuracies (one colour per metric), in percent, with their values.

    `results`: one row per run with a column `run` (display name, unique) and any of the columns of
    `RESULT_METRICS` as fractions 0-1 (missing values leave no bar). The y axis is zoomed in like
    seed 002's plt.ylim(97, 100): from a whole percent a bit below the lowest value up to 100 %,
    with room above for the values written over the bars (standing up when there are more than
    UPRIGHT_BAR_LABELS bars). Run names wrap onto several lines instead of slanting across the chart.
    """
    title = "Accuracy of each run"
    metrics = [m for m in RESULT_METRICS if m in results and pd.to_numeric(results[m], errors="coerce").notna().any()]
    if results.empty or "run" not in results or not metrics:
        return _note(title, "no results yet")
    runs = ["<br>".join(map(plain_text.plotly, textwrap.wrap(str(run), RUN_NAME_LINE, break_long_words=False)))
            for run in results["run"]]
    percents = results[metrics].apply(pd.to_numeric, errors="coerce") * 100
    across = len(runs) * len(metrics) <= UPRIGHT_BAR_LABELS
    fig = go.Figure()
    for metric in metrics:
        name, color = RESULT_METRICS[metric]
        fig.add_bar(x=runs, y=percents[metric].to_numpy(dtype=float), name=name, marker_color=color,
                    texttemplate="%{y:.2f}", textposition="outside", textangle=0 if across else -90, cliponaxis=False,
                    hovertemplate=f"%{{x}}<br>{name}: %{{y:.2f}}%<extra></extra>")
    low = float(np.nanmin(percents.to_numpy(dtype=float)))
    bottom = max(0, math.floor(low - max(0.5, 0.25 * (100 - low))))
    step = next(step for step in (0.5, 1, 2, 5, 10, 20) if (100 - bottom) / step <= 8)
    fig.update_layout(barmode="group", uniformtext=dict(minsize=8, mode="hide"))
    fig.update_xaxes(title="Run", type="category", tickangle=0)
    ticks = np.arange(math.ceil(bottom / step) * step, 100 + step / 2, step).tolist()
    headroom = (0.1 if across else 0.2) * (100 - bottom)  # for the values over the bars at 100 %
    fig.update_yaxes(title=f"Accuracy (axis starts at {bottom} %)", range=[bottom, 100 + headroom],
                     tickmode="array", tickvals=ticks, ticktext=[f"{tick:g} %" for tick in ticks])
    return _legend_below(_style(fig, title))


def per_class_scores(scores: pd.DataFrame) -> go.Figure:
    """Precision (top) and recall (bottom) of each class, grouped bars coloured by run.

    `scores` is long: columns `run`, `class`, `precision` and `recall` (fractions 0-1), as
    `evaluation.per_class_scores` gives per run plus a `run` column. Classes keep their order of
    first appearance; a missing score column drops its subplot.
    """
    title = "Precision and recall of each class"
    quantities = [q for q in ("precision", "recall") if q in scores]
    if scores.empty or not {"run", "class"} <= set(scores.columns) or not quantities:
        return _note(title, "no per-class scores yet")
    classes = [str(c) for c in pd.unique(scores["class"])]
    fig = make_subplots(rows=len(quantities), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for run, color in _run_colors(pd.unique(scores["run"])).items():
        part = scores[scores["run"] == run]
        for row, quantity in enumerate(quantities, start=1):
            fig.add_bar(x=part["class"].astype(str).to_numpy(), y=part[quantity].to_numpy(dtype=float),
                        name=plain_text.plotly(run), marker_color=color, legendgroup=str(run), showlegend=row == 1,
                        row=row, col=1, hovertemplate=f"{RUN_IN_HOVER}<br>class %{{x}}<br>{quantity}: %{{y:.1%}}<extra></extra>")
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=classes)
    fig.update_xaxes(title_text="Class", row=len(quantities), col=1)
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    for row, quantity in enumerate(quantities, start=1):
        fig.update_yaxes(title_text=quantity.capitalize(), row=row, col=1)
    return _legend_below(_style(fig, title, height=150 + 260 * len(quantities)))


# ---- evaluation ----------------------------------------------------------------------------


def _row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (the share of each true class); rows summing to 0 stay 0."""
    matrix = np.asarray(matrix, dtype=float)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def _square(matrix, class_names) -> np.ndarray:
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape != (len(class_names), len(class_names)):
        raise ValueError(f"expected a {len(class_names)}x{len(class_names)} matrix for {len(class_names)} classes, "
                         f"got shape {matrix.shape}")
    return matrix


def _class_heatmap(z: np.ndarray, class_names, title: str, *, cell_text: np.ndarray, value_hover: str,
                   colorbar: dict, clickable: bool = False, **heatmap) -> go.Figure:
    """True class (rows, top to bottom in class order) against predicted class (columns), with
    `cell_text` (one string per cell, "" for none) written in the cells up to TEXT_CLASSES classes.

    `clickable` lays an invisible marker on every cell centre: Streamlit's plotly selection ignores
    heatmaps (streamlit#8760), so a click selects the marker, whose x and y are the cell's classes.
    """
    names = [str(c) for c in class_names]
    n = len(names)
    height = int(np.clip(250 + 30 * n, 480, 900))
    hover = f"true: %{{y}}<br>predicted: %{{x}}<br>{value_hover}<extra></extra>"
    written = n <= TEXT_CLASSES
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=names, text=np.asarray(cell_text) if written else None, texttemplate="%{text}" if written else None,
        hovertemplate=hover, hoverinfo="skip" if clickable else None, colorbar=dict(thickness=12, **colorbar), **heatmap,
    ))
    if clickable:
        rows, columns = np.divmod(np.arange(n * n), n)
        fig.add_trace(go.Scatter(
            x=[names[c] for c in columns], y=[names[r] for r in rows], customdata=np.asarray(z).ravel(),
            mode="markers", marker=dict(symbol="square", size=max(4, (height - 160) / n), opacity=0),
            hovertemplate=hover.replace("%{z", "%{customdata"), showlegend=False, name="cells",
        ))
    fig.update_xaxes(title="Predicted label", type="category", range=[-0.5, n - 0.5], constrain="domain",
                     showgrid=False)
    fig.update_yaxes(title="True label", type="category", range=[n - 0.5, -0.5], scaleanchor="x",
                     constrain="domain", showgrid=False)  # first class on top
    return _style(fig, title, height=height)


def _colorbar_title(text: str) -> dict:
    return dict(title=dict(text=text, side="right"))


def confusion_matrix(matrix: np.ndarray, class_names: list[str], normalize: bool = False,
                     title: str = "Confusion matrix", clickable: bool = False) -> go.Figure:
    """Heatmap of a confusion matrix: true label on y (first class on top), predicted label on x.

    `title` is shown as plain text (it may be a run's name).

    `matrix[i, j]` counts images of class i predicted as j. With `normalize` each row is divided by
    its sum (rows with no images stay 0) and the colours run 0-1, so runs compare at a glance. Up to
    TEXT_CLASSES classes the cells with images show their values (counts as integers, shares as
    0.00, "<.01" for a share that would round to 0); cells with none stay blank, so the diagonal and
    the real mistakes stand out. Raises ValueError unless the matrix is square with one row per
    class name. `clickable`: a click on a cell selects it (see _class_heatmap).
    """
    title = plain_text.plotly(title)
    if len(class_names) == 0:
        return _note(title, "no classes")
    counts = _square(matrix, class_names)
    if normalize:
        shares = _row_normalised(counts)
        text = [["" if count == 0 else "<.01" if share < 0.005 else f"{share:.2f}" for count, share in zip(*row)]
                for row in zip(counts, shares)]
        return _class_heatmap(shares, class_names, title, cell_text=text,
                              value_hover="share of the true class: %{z:.1%}", colorbar=_colorbar_title("share of true class"),
                              clickable=clickable, colorscale="Blues", zmin=0, zmax=1)
    return _class_heatmap(counts, class_names, title, cell_text=np.where(counts > 0, counts.astype(str), ""),
                          value_hover="images: %{z:,d}", colorbar=_colorbar_title("images"), clickable=clickable,
                          colorscale="Blues", zmin=0)


def confusion_difference(a: np.ndarray, b: np.ndarray, class_names, names=("A", "B")) -> go.Figure:
    """How run B's confusion matrix differs from run A's, for two runs tested on the same images.

    The cells say how many more (+) or fewer (−) test images B puts there than A, blank where the
    runs agree. The colour says which run does better in the cell, on one diverging scale: blue
    where B does (more images right on the diagonal; fewer images in a mistake off it, so a blue
    cell off the diagonal has a negative number), red where A does, white where they agree; the
    colour bar and the title say so. Equal matrices give a note saying so. Raises ValueError when
    the shapes differ or don't match `class_names`.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"confusion matrices differ in shape: {a.shape} and {b.shape}")
    name_a, name_b = (plain_text.plotly(name) for name in names)
    title = (f"B − A: test images per cell<br><sup>A: {name_a} · B: {name_b}</sup><br><sup>blue where B is better "
             "(more right on the diagonal, fewer mistakes off it), red where A is</sup>")
    if len(class_names) == 0:
        return _note(title, "no classes")
    a, b = _square(a, class_names).astype(np.int64), _square(b, class_names).astype(np.int64)
    difference = b - a
    if not difference.any():
        return _note(title, "A and B put every test image in the same cell: no difference")
    b_better = np.where(np.eye(len(difference), dtype=bool), difference, -difference)
    limit = max(1, int(np.abs(b_better).max()))
    text = np.where(difference == 0, "", np.char.replace(np.char.mod("%+d", difference), "-", "−"))
    verdict = np.select([b_better > 0, b_better < 0], [f"B ({name_b}) is better here", f"A ({name_a}) is better here"],
                        "both the same")
    return _class_heatmap(
        b_better, class_names, title, cell_text=text,
        hovertext=np.char.add(np.char.add(np.where(difference == 0, "0", text), " images<br>"), verdict),
        value_hover="B − A: %{hovertext}",
        colorbar=dict(title=dict(text="which run is better in the cell", side="right"), tickmode="array",
                      tickvals=[-limit, 0, limit], ticktext=["A better", "same", "B better"]),
        colorscale=plotly.colors.diverging.RdBu, zmid=0, zmin=-limit, zmax=limit,
    ).update_layout(margin_t=100)  # three title lines


def probability_bars(probabilities: np.ndarray, class_names, true_index: int | None = None,
                     top: int | None = None) -> go.Figure:
    """Bars of one image's class probabilities (seed 003's plot_value_array, seed 004's top 5).

    With `top` only the `top` most likely classes, most likely first; else every class in class
    order. The predicted (most likely) class is red and the true class blue, as in seed 003 which
    colours the true bar last: a right prediction is one blue bar, a wrong one a red and a blue bar.
    The rest are gray. When the true class falls outside the top, the title gives its probability.
    """
    p = _floats(probabilities)
    names = [str(c) for c in class_names]
    if len(p) != len(names):
        raise ValueError(f"{len(p)} probabilities for {len(names)} classes")
    title = "Class probabilities" + (f" (top {min(top, len(p))})" if top else "")
    if len(p) == 0:
        return _note(title, "no probabilities")
    shown = np.argsort(-p, kind="stable")[:top] if top else np.arange(len(p))
    colors = np.full(len(p), OTHER, dtype=object)
    colors[int(np.argmax(p))] = WRONG
    if true_index is not None:
        colors[true_index] = RIGHT
        if true_index not in shown:
            title += f"; true class {names[true_index]}: " + (f"{p[true_index]:.1%}" if p[true_index] >= 0.001 else "<0.1%")
    fig = go.Figure(go.Bar(
        x=[names[i] for i in shown], y=p[shown], marker_color=colors[shown].tolist(), showlegend=False,
        texttemplate="%{y:.0%}" if len(shown) <= TEXT_CLASSES else None, textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    ))
    # the colour key on a line of its own, so a chart in a narrow column doesn't cut it off
    fig.update_xaxes(title="Class<br>(red: predicted, blue: true)" if true_index is not None else "Class<br>(red: predicted)",
                     type="category")
    fig.update_yaxes(title="Probability", range=[0, 1], tickformat=".0%")
    return _style(fig, title).update_layout(margin=dict(MARGIN, b=MARGIN["b"] + 20))


# ---- inside the network ----------------------------------------------------------------------


def _scaled_channels(maps: np.ndarray) -> np.ndarray:
    """(H, W, C) -> each channel min-max scaled to 0-255 on its own; constant (or non-finite) -> 0."""
    maps = np.asarray(maps, dtype=float)
    finite = np.isfinite(maps)
    low = np.where(finite, maps, np.inf).min(axis=(0, 1))
    high = np.where(finite, maps, -np.inf).max(axis=(0, 1))
    span = high - low
    ok = np.isfinite(span) & (span > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = (maps - low) / np.where(ok, span, 1.0) * 255
    return np.where(finite & ok, scaled, 0.0)


def feature_map_grid(maps: np.ndarray, layer: str, max_maps: int = 64, columns: int = 16) -> go.Figure:
    """The activations of one layer for one image, one gray tile per channel (white: highest).

    `maps`: (H, W, C) floats (a leading batch axis of 1 is dropped). Each channel is min-max scaled
    on its own, so the tiles show where a channel fires, not how strongly compared to the others.
    Only the first `max_maps` channels are shown (the title says so); tiles get their channel number
    above them when there is room (at most IMAGE_WIDTH_PX / MIN_TITLED_TILE_PX columns).
    """
    maps = np.asarray(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps shaped (H, W, C), got {maps.shape}")
    h, w, c = maps.shape
    shown = min(c, max_maps)
    title = f"{layer}: {c} feature maps ({h}×{w})" if shown == c else f"{layer}: first {shown} of {c} feature maps ({h}×{w})"
    if shown == 0:
        return _note(title, "no feature maps")
    tiles = np.moveaxis(_scaled_channels(maps[..., :shown]), -1, 0)[..., None]
    cols = max(1, min(columns, shown))
    titles = [str(i) for i in range(shown)] if IMAGE_WIDTH_PX / cols >= MIN_TITLED_TILE_PX else None
    return image_grid(tiles, titles, columns=cols, title=title)


# Grad-CAM: heat below this share of the peak is not drawn, so the image shows through where the
# evidence is weak and one hot spot doesn't tint the whole picture.
HEAT_SHOWN_FROM = 0.2
# The heat's colours: the upper 70 % of inferno (perceptually uniform, dark red to pale yellow),
# so even the weakest heat drawn stands out from a gray image.
HEAT_COLORSCALE = plotly.colors.make_colorscale(plotly.colors.sequential.Inferno[3:])
GRAD_CAM_PANEL_PX = 300  # each of the two Grad-CAM panels is drawn about this many pixels wide
GRAD_CAM_CAPTION = (
    "Grad-CAM weighs the chosen layer's feature maps by how much they raise the class's score. Colours give "
    "that evidence as a share of its strongest spot (bright yellow, 100%); below "
    f"{HEAT_SHOWN_FROM:.0%} nothing is drawn, so the image (in gray) shows through where it counts little. "
    "Deeper layers see larger, more abstract parts of the image; the first ones, edges and strokes."
)


def _rgb_uint8(image: np.ndarray) -> np.ndarray:
    """One image (H, W), (H, W, 1) or (H, W, 3) as uint8 RGB (H, W, 3)."""
    image = _as_uint8(np.asarray(image)[None])[0]
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def _heat_colors(values: np.ndarray) -> np.ndarray:
    """HEAT_COLORSCALE at `values` (HEAT_SHOWN_FROM..1 spans the scale), as floats (..., 3) in 0-255."""
    stops = np.array([stop for stop, _ in HEAT_COLORSCALE])
    colors = np.array([plotly.colors.hex_to_rgb(color) for _, color in HEAT_COLORSCALE], dtype=float)
    position = np.clip((values - HEAT_SHOWN_FROM) / (1 - HEAT_SHOWN_FROM), 0, 1)
    return np.stack([np.interp(position, stops, colors[:, channel]) for channel in range(3)], axis=-1)


def grad_cam_overlay(image: np.ndarray, heat: np.ndarray, scale: int = 1) -> np.ndarray:
    """The heat map (H, W) in 0-1 drawn over a gray copy of the image (H, W[, C]): uint8 (H*scale, W*scale, 3).

    The image is enlarged by `scale` as blocks of pixels, the heat smoothly (bicubic). Heat below
    HEAT_SHOWN_FROM is not drawn; above it the colour covers more of the image the hotter it is.
    """
    rgb = _rgb_uint8(image)
    heat = np.nan_to_num(np.asarray(heat, dtype="float32"))
    if heat.shape != rgb.shape[:2]:
        raise ValueError(f"the heat map is {heat.shape}, the image {rgb.shape[:2]}")
    gray = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    gray = np.kron(gray, np.ones((scale, scale)))[..., None]
    height, width = gray.shape[:2]
    heat = np.asarray(Image.fromarray(heat, mode="F").resize((width, height), Image.Resampling.BICUBIC)).clip(0, 1)
    opacity = np.where(heat >= HEAT_SHOWN_FROM, 0.45 + 0.4 * (heat - HEAT_SHOWN_FROM) / (1 - HEAT_SHOWN_FROM), 0.0)
    blended = (1 - opacity[..., None]) * gray + opacity[..., None] * _heat_colors(heat)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def grad_cam(image: np.ndarray, heat: np.ndarray, title: str = "Grad-CAM") -> go.Figure:
    """The image beside its Grad-CAM heat map drawn over it (see grad_cam_overlay), with a colour bar.

    `image`: (H, W), (H, W, 1) or (H, W, 3), values 0-255; `heat`: (H, W) in 0-1. Small images are
    enlarged to about GRAD_CAM_PANEL_PX pixels (blocks of pixels, so nothing is made up); both go to
    the browser as PNG. A heat map with nothing in it says so.
    """
    rgb = _rgb_uint8(image)
    scale = max(1, GRAD_CAM_PANEL_PX // max(rgb.shape[:2]))
    panels = [np.kron(rgb, np.ones((scale, scale, 1), dtype=np.uint8)), grad_cam_overlay(rgb, heat, scale)]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.03,
                        subplot_titles=("image", f"evidence (shown from {HEAT_SHOWN_FROM:.0%} of the peak)"))
    for column, panel in enumerate(panels, start=1):
        fig.add_trace(go.Image(source=_png_source(panel), hoverinfo="skip"), row=1, col=column)
    fig.add_trace(go.Scatter(  # no points: it only carries the colour bar
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(color=[HEAT_SHOWN_FROM], colorscale=HEAT_COLORSCALE, cmin=HEAT_SHOWN_FROM, cmax=1, showscale=True,
                    colorbar=dict(title=dict(text="share of<br>the peak", side="right"), thickness=14, len=0.9,
                                  tickvals=[HEAT_SHOWN_FROM, 0.6, 1], tickformat=".0%")),
    ), row=1, col=2)
    if not np.nan_to_num(np.asarray(heat, dtype=float)).any():
        fig.add_annotation(text="nothing here raises<br>this class's score", xref="x2 domain", yref="y2 domain",
                           x=0.5, y=0.5, showarrow=False, font=dict(size=15, color=HIGHLIGHT), bgcolor="white")
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain", scaleanchor="x")
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    height, width = panels[0].shape[:2]
    side = GRAD_CAM_PANEL_PX
    fig = _style(fig, title, height=int(side * height / width) + 110)
    return fig.update_layout(width=2 * side + 170, margin=dict(l=10, r=10, t=80, b=10))


def gallery(images: np.ndarray, captions: list[str], columns: int = 10, correct: list[bool] | None = None,
            title: str = "", width: int = IMAGE_WIDTH_PX) -> go.Figure:
    """Images with a caption above each ("\n" breaks lines, e.g. "true: cat\npred: dog 87%").

    With `correct` (one bool per image) captions are blue when right and red when wrong, as in seed
    003's plot_image.
    """
    colors = None if correct is None else [RIGHT if ok else WRONG for ok in correct]
    fig = image_grid(images, captions, columns=columns, title=title, title_colors=colors, width=width)
    return fig.update_yaxes(constraintoward="top")  # in a column narrower than `width`, the spare height goes below


def computer_vs_human(images: np.ndarray, true_names, predicted_names, per_row: int = 10,
                      title: str | None = None) -> go.Figure:
    """Seed 000's grid: each image captioned with the network's label over the human one, wrong ones red.

    Pass the images ordered class by class with `per_row` of each, so each row is one true class.
    The default title counts the right ones. Raises ValueError when the lengths differ.
    """
    if not len(images) == len(true_names) == len(predicted_names):
        raise ValueError(f"{len(images)} images, {len(true_names)} true and {len(predicted_names)} predicted names")
    right = [str(p) == str(t) for p, t in zip(predicted_names, true_names)]
    if title is None:
        title = f"Computer vs human: {sum(right)} of {len(right)} right"
    captions = [f"computer: {p}\nhuman: {t}" for p, t in zip(predicted_names, true_names)]
    return image_grid(images, captions, columns=per_row, title=title,
                      title_colors=[None if ok else WRONG for ok in right])


# ---- groups of runs (ablations, seeds) --------------------------------------------------


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
    return _legend_below(_style(fig, title))


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

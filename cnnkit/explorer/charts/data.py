"""Charts of a data set before training: images per class and split, random examples of each class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cnnkit.explorer.charts._style import SPLIT_COLORS, _note, _style
from cnnkit.explorer.charts.images import _as_uint8, image_grid


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

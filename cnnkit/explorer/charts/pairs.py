"""Pairs of images side by side (near-duplicates): each pair's two images next to each other."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnkit.explorer.charts.classify import gallery


def pair_gallery(first: np.ndarray, second: np.ndarray, first_captions: list[str], second_captions: list[str],
                 pairs_per_row: int = 5, title: str = "") -> go.Figure:
    """Pair i is `first[i]` beside `second[i]`, captioned; `pairs_per_row` pairs to a row."""
    if not len(first) == len(second) == len(first_captions) == len(second_captions):
        raise ValueError(f"{len(first)} and {len(second)} images, {len(first_captions)} and {len(second_captions)} "
                         "captions")
    images = np.stack([image for pair in zip(first, second) for image in pair]) if len(first) else first
    captions = [caption for pair in zip(first_captions, second_captions) for caption in pair]
    return gallery(images, captions, columns=2 * pairs_per_row, title=title)

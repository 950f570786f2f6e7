"""Images to the browser: PNG encoding and the one-trace montage every image chart is built on."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from cnnkit.explorer.charts._style import _note, _style

IMAGE_WIDTH_PX = 720  # width an image montage is assumed to get on the page (default), for its height
MAX_TILE_PX = 160  # a single image is not blown up beyond this


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
    """An (H, W, 3) RGB or (H, W, 4) RGBA uint8 image as a PNG data URL, for `go.Image(source=...)`."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


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
    gets a transparent band above it, one line high per line of its longest title. `title_colors`: up to N
    CSS colours for the titles, None for the default. Titles shrink (down to 8 px) to fit their
    tile's width. `row_labels`: one string per row, written left of the row. Tiles are `gap` transparent
    pixels apart; `columns` is capped at N. `width`: the screen pixels the figure will get (a
    half-width column gets less), from which its height follows, so no white band is left above.
    """
    if len(images) == 0:
        return _note(title or "Images", "no images to show")
    tiles = _as_uint8(images)
    gray = tiles.shape[-1] == 1
    n, h, w, _ = tiles.shape
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
    # Transparent white between tiles and under titles: the page shows through, light or dark, and
    # the titles (in the theme's text colour) stay readable on it.
    montage = np.zeros((tops[-1] + h, cols * (w + gap) - gap, 4), dtype=np.uint8)
    montage[..., :3] = 255
    scale = min(width / montage.shape[1], MAX_TILE_PX / max(h, w))  # screen pixels per image pixel
    longest = max((len(part) for t in titles for part in t.split("<br>")), default=0)
    size = int(np.clip(w * scale / (0.6 * max(longest, 1)), 8, 11))  # ~0.6 em per character
    annotations = []
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = tops[r], c * (w + gap)
        montage[top : top + h, left : left + w] = np.concatenate([np.broadcast_to(tiles[i], (h, w, 3)),
                                                                  np.full((h, w, 1), 255, np.uint8)], axis=-1)
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

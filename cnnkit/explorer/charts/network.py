"""Charts of what happens inside the network: feature maps of a layer, Grad-CAM heat over an image."""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from cnnkit.explorer.charts._style import HIGHLIGHT, _note, _style
from cnnkit.explorer.charts.images import IMAGE_WIDTH_PX, _as_uint8, _png_source, image_grid

MIN_TITLED_TILE_PX = 40  # feature maps get their channel number above them when tiles are at least this wide


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

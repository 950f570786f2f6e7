"""Charts of predictions on single images: class probabilities, captioned galleries, computer vs human."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnkit.explorer.charts._style import MARGIN, OTHER, RIGHT, TEXT_CLASSES, WRONG, _floats, _note, _style
from cnnkit.explorer.charts.images import IMAGE_WIDTH_PX, image_grid


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

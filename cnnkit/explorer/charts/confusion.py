"""Class-by-class heatmaps: a run's confusion matrix and how two runs' matrices differ."""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.colors
import plotly.graph_objects as go

import cnnkit.explorer.plain_text as plain_text
from cnnkit.explorer.charts._style import MARGIN, TEXT_CLASSES, _note, _style

TITLE_LINE = 60  # characters per line of a title: a half-width chart shows them whole
LABEL_PX = 7  # about the width of one character of a tick label
UPRIGHT_LABELS = 3  # class names up to this long stand upright under the matrix; longer ones slant


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


def _label_margins(names: list[str], title_lines: int) -> dict:
    """Margins that fit the class names beside (left) and under (bottom, slanted when long) the
    matrix, and `title_lines` lines of title above it."""
    longest = max(map(len, names))
    slanted = longest > UPRIGHT_LABELS
    return dict(l=max(MARGIN["l"], 40 + LABEL_PX * longest), t=max(MARGIN["t"], 30 + 24 * title_lines),
                b=MARGIN["b"] + (int(0.7 * LABEL_PX * longest) if slanted else 0))


def _class_heatmap(z: np.ndarray, class_names, title: str, *, cell_text: np.ndarray, value_hover: str,
                   colorbar: dict, clickable: bool = False, **heatmap) -> go.Figure:
    """True class (rows, top to bottom in class order) against predicted class (columns), with
    `cell_text` (one string per cell, "" for none) written in the cells up to TEXT_CLASSES classes.
    Long class names slant under the matrix, and the margins grow to hold them and the title.

    `clickable` lays an invisible marker on every cell centre: Streamlit's plotly selection ignores
    heatmaps (streamlit#8760), so a click selects the marker, whose x and y are the cell's classes.
    """
    names = [str(c) for c in class_names]
    n = len(names)
    margin = _label_margins(names, title.count("<br>") + 1)
    height = int(np.clip(250 + 30 * n, 480, 900)) + margin["b"] - MARGIN["b"] + margin["t"] - MARGIN["t"]
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
            hovertext=None if "hovertext" not in heatmap else np.asarray(heatmap["hovertext"]).ravel(),
            mode="markers", marker=dict(symbol="square", size=max(4, (height - 160) / n), opacity=0),
            hovertemplate=hover.replace("%{z", "%{customdata"), showlegend=False, name="cells",
        ))
    fig.update_xaxes(title="Predicted label", type="category", range=[-0.5, n - 0.5], constrain="domain",
                     showgrid=False, tickangle=-45 if max(map(len, names)) > UPRIGHT_LABELS else 0)
    fig.update_yaxes(title="True label", type="category", range=[n - 0.5, -0.5], scaleanchor="x",
                     constrain="domain", showgrid=False)  # first class on top
    return _style(fig, title, height=height).update_layout(margin=margin)


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


def confusion_difference(a: np.ndarray, b: np.ndarray, class_names, names=("A", "B"),
                         clickable: bool = False) -> go.Figure:
    """How run B's confusion matrix differs from run A's, for two runs tested on the same images.

    The cells say how many more (+) or fewer (−) test images B puts there than A, blank where the
    runs agree. The colour says which run does better in the cell, on one diverging scale: blue
    where B does (more images right on the diagonal; fewer images in a mistake off it, so a blue
    cell off the diagonal has a negative number), red where A does, white where they agree; the
    colour bar and the title say so, the title in short lines (long run names wrap). Equal matrices
    give a note saying so. Raises ValueError when the shapes differ or don't match `class_names`.
    `clickable`: a click on a cell selects it (see _class_heatmap).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"confusion matrices differ in shape: {a.shape} and {b.shape}")
    name_a, name_b = (plain_text.plotly(name) for name in names)
    subtitle = [*_wrapped(f"A: {names[0]}"), *_wrapped(f"B: {names[1]}"), "blue: B is better here, red: A is"]
    title = "<br>".join(["B − A: test images per cell", *(f"<sup>{line}</sup>" for line in subtitle)])
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
        colorscale=plotly.colors.diverging.RdBu, zmid=0, zmin=-limit, zmax=limit, clickable=clickable,
    )


def _wrapped(text: str) -> list[str]:
    """`text` (typed by a person) in lines of at most TITLE_LINE characters, shown as plain text."""
    return [plain_text.plotly(line) for line in textwrap.wrap(text, TITLE_LINE, break_long_words=True)]

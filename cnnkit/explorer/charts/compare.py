"""Charts comparing runs: curves of one metric per run, accuracy bars, per-class precision and recall."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import cnnkit.explorer.accuracy_intervals as accuracy_intervals
import cnnkit.explorer.plain_text as plain_text
from cnnkit.explorer.charts._axes import _count_axis, _log_axis, _spans_decades, _value_range
from cnnkit.explorer.charts._style import (RUN_COLORS, RUN_IN_HOVER, SPLIT_COLORS, _metric_label,
                                           _mode, _note, _run_colors, _style)
from cnnkit.explorer.charts._time import clocks, time_scale
from cnnkit.explorer.charts.smoothing import moving_average
from cnnkit.tracking import run_schema

RESULT_METRICS = {  # results_bars: column -> (legend label, colour)
    run_schema.FINAL_ACCURACY: ("train accuracy (last epoch)", SPLIT_COLORS["train"]),
    run_schema.FINAL_VAL_ACCURACY: ("validation accuracy (last epoch)", SPLIT_COLORS["validation"]),
    run_schema.TEST_ACCURACY: ("test accuracy", SPLIT_COLORS["test"]),
    run_schema.TEST_TOP3_ACCURACY: ("test top-3 accuracy", "#9467bd"),
    run_schema.TEST_TOP5_ACCURACY: ("test top-5 accuracy", "#8c564b"),
}
UPRIGHT_BAR_LABELS = 15  # results bars write their values across up to this many bars, standing up beyond
RUN_NAME_LINE = 22  # characters per line of a run's name under its bars


def compare_curves(history: pd.DataFrame, metric: str, x: str = "epoch", smoothing: int = 1,
                   log_x: bool = False, continued: Mapping[str, str] | None = None) -> go.Figure:
    """One line per run of `metric` against `x`, for comparing runs.

    `history` is long: columns `run` (display name), `x` (e.g. epoch or step) and `metric` (e.g.
    loss, val_accuracy, lr, batch_loss); other columns are ignored. Rows with no `metric` value are
    dropped, then each run's values (sorted by `x`) are smoothed with the trailing `moving_average`
    over `smoothing` points. Runs get colours in order of first appearance. With `log_x` (as seed
    002 plots batch loss) x values <= 0 are left out. Accuracies are shown as percent; a learning
    rate spanning more than two decades gets a log y axis. With `x` `elapsed_s` (the training clock)
    times read in s, min or h, m:ss in the hover. `continued` maps a run (a fork's parent up
    to the fork's epoch) to the run that continues it (the fork): it is drawn dashed in that run's colour.
    """
    label = _metric_label(metric)
    time = x == run_schema.ELAPSED_SECONDS
    title = f"{label[:1].upper()}{label[1:]} {'over wall time' if time else f'per {x}'}" + (f", average of the last {smoothing} points" if smoothing > 1 else "")
    if history.empty or not {"run", x, metric} <= set(history.columns):
        return _note(title, f"no {label} recorded for these runs")
    rows = history[["run", x, metric]].copy()
    rows[x] = pd.to_numeric(rows[x], errors="coerce")
    rows[metric] = pd.to_numeric(rows[metric], errors="coerce")
    measured = rows.dropna(subset=[metric])
    rows = measured.dropna(subset=[x])
    if untimed := [run for run in measured["run"].unique() if run not in set(rows["run"])] if time else []:
        title += f"<br><sup>left out, no training times logged: {plain_text.plotly(', '.join(map(str, untimed)))}</sup>"
    if log_x:
        rows = rows[rows[x] > 0]
    if rows.empty:
        return _note(title, f"no {label} recorded for these runs")
    percent = "accuracy" in metric
    value_format = ":.2%" if percent else ":.3g" if label == "learning rate" else ":.4f"
    scale, time_title = time_scale(rows[x]) if time else (1.0, "")
    hover_x = "wall time %{customdata}" if time else f"{x} %{{x}}"
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
        fig.add_scatter(x=xs / scale, y=ys, name=plain_text.plotly(run), mode=_mode(len(xs)),
                        line_dash="dash" if run in continued else None, line_color=color,
                        customdata=clocks(xs) if time else None,
                        hovertemplate=f"{RUN_IN_HOVER}<br>{hover_x}<br>{label}: %{{y{value_format}}}<extra></extra>")
    x_title = {"epoch": "Epoch", "step": "Optimizer step (batch)", run_schema.ELAPSED_SECONDS: time_title}.get(x, x)
    x_axis = dict(rangemode="tozero") if time else _count_axis(rows[x])
    fig.update_xaxes(title=x_title + (", log scale" if log_x else ""),
                     **(_log_axis(rows[x]) if log_x else dict(type="linear", **x_axis)))
    log_y = label == "learning rate" and _spans_decades(rows[metric])
    drawn = np.concatenate(drawn)
    if log_y:
        y_axis = _log_axis(drawn)
    else:
        y_axis = dict(type="linear", range=_value_range(drawn, 0, 1, min_span=0.1) if percent else _value_range(drawn, low=0))
    fig.update_yaxes(title=label[:1].upper() + label[1:] + (" (log scale)" if log_y else ""),
                     tickformat=".0%" if percent else None, **y_axis)
    return _style(fig, title)


def results_bars(results: pd.DataFrame) -> go.Figure:
    """Grouped bars of each run's accuracies (one colour per metric), in percent, with their values.

    `results`: one row per run with a column `run` (display name, unique) and any of the columns of
    `RESULT_METRICS` as fractions 0-1 (missing values leave no bar). The y axis is zoomed in like
    seed 002's plt.ylim(97, 100): from a whole percent a bit below the lowest value up to 100 %,
    with room above for the values written over the bars (standing up when there are more than
    UPRIGHT_BAR_LABELS bars). Run names wrap onto several lines instead of slanting across the chart.
    With a column `test_images` (n, as `RunStore.results_table`), the test accuracies (top-k too:
    shares of the same images) get error bars, their 95 % Wilson intervals, and their values and
    intervals go into the hover instead of over the bars, where the error bars would cross them.
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
    lows = []
    for metric in metrics:
        name, color = RESULT_METRICS[metric]
        values = percents[metric].to_numpy(dtype=float)
        found = np.array([accuracy_intervals.bounds(accuracy, images) for accuracy, images in
                          zip(results[metric], results["test_images"])]) * 100 \
            if metric.startswith(run_schema.TEST_PREFIX) and "test_images" in results else np.full((len(runs), 2), np.nan)
        barred = bool(np.isfinite(found[:, 0]).any())
        lows.append(found[:, 0])
        fig.add_bar(x=runs, y=values, name=name + (" (95 % interval)" if barred else ""), marker_color=color,
                    error_y=dict(type="data", symmetric=False, array=found[:, 1] - values, arrayminus=values - found[:, 0],
                                 color="#444", thickness=1.5) if barred else None,
                    customdata=found, texttemplate=None if barred else "%{y:.2f}", textposition="outside",
                    textangle=0 if across else -90, cliponaxis=False,
                    hovertemplate=f"%{{x}}<br>{name}: %{{y:.2f}}%"
                                  + (" (95 % interval %{customdata[0]:.2f} to %{customdata[1]:.2f})" if barred else "")
                                  + "<extra></extra>")
    low = float(np.nanmin(np.concatenate([percents.to_numpy(dtype=float).ravel(), *lows])))
    bottom = max(0, math.floor(low - max(0.5, 0.25 * (100 - low))))
    step = next(step for step in (0.5, 1, 2, 5, 10, 20) if (100 - bottom) / step <= 8)
    fig.update_layout(barmode="group", uniformtext=dict(minsize=8, mode="hide"))
    fig.update_xaxes(title="Run", type="category", tickangle=0)
    ticks = np.arange(math.ceil(bottom / step) * step, 100 + step / 2, step).tolist()
    headroom = (0.1 if across else 0.2) * (100 - bottom)  # for the values over the bars at 100 %
    fig.update_yaxes(title=f"Accuracy (axis starts at {bottom} %)", range=[bottom, 100 + headroom],
                     tickmode="array", tickvals=ticks, ticktext=[f"{tick:g} %" for tick in ticks])
    return _style(fig, title)


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
    return _style(fig, title, height=150 + 260 * len(quantities))

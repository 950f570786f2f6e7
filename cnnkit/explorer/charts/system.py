"""The machine's use while runs trained (MLflow's system metrics): CPU, memory and each GPU's use
against the wall time since each run started, one colour per run."""

from __future__ import annotations

import itertools

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import cnnkit.explorer.plain_text as plain_text
from cnnkit.explorer.charts._style import RUN_IN_HOVER, _mode, _note, _run_colors, _style
from cnnkit.explorer.charts._time import clocks, time_scale
from cnnkit.tracking import run_schema

GPU_DASHES = ("solid", "dot", "dash", "dashdot", "longdash")  # GPU 0, 1, ... of one run
PANEL_HEIGHT = 200


def system_use(history: pd.DataFrame) -> go.Figure:
    """Panels over one time axis: CPU use (%), memory in use (MB) and, when a run logged it, each
    GPU's use (%; GPU 0 solid, GPU 1 dotted, ...); a panel no run logged is left out.

    `history` is long, as `RunStore.system_history` gives it: columns `run` (display name), `metric`
    (a `run_schema` system metric), `seconds` (since the run started) and `value`. Runs get colours in
    order of first appearance. The subtitle says what the numbers are: the whole machine's, so runs
    training at the same time on one machine show the same load."""
    title = ("System use during training<br><sup>the whole machine's CPU and memory, not the run's own: "
             "runs training at the same time share them</sup>")
    logged = set(history["metric"]) if {"run", "metric", "seconds", "value"} <= set(history.columns) else set()
    gpus = [run_schema.system_gpu_utilization(gpu) for gpu in
            itertools.takewhile(lambda gpu: run_schema.system_gpu_utilization(gpu) in logged, itertools.count())]
    panels = [(axis, keys, percent) for axis, keys, percent in (("CPU use (%)", [run_schema.SYSTEM_CPU], True),
                                                                ("Memory in use (MB)", [run_schema.SYSTEM_MEMORY], False),
                                                                ("GPU use (%)", gpus, True)) if logged & set(keys)]
    if not panels:
        return _note(title, "no system metrics recorded for these runs")
    scale, x_title = time_scale(history["seconds"], "Wall time since the run started")
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    colors, in_legend = _run_colors(pd.unique(history["run"])), set()
    for row, (axis, keys, percent) in enumerate(panels, start=1):
        for run, color in colors.items():
            for gpu, key in enumerate(keys):
                part = history[(history["run"] == run) & (history["metric"] == key)].sort_values("seconds")
                if part.empty:
                    continue
                seconds = part["seconds"].to_numpy(dtype=float)
                what = f"GPU {gpu} use (%)" if key in gpus else axis
                fig.add_scatter(x=seconds / scale, y=part["value"].to_numpy(dtype=float), name=plain_text.plotly(run),
                                legendgroup=plain_text.plotly(run), showlegend=run not in in_legend, line_color=color,
                                line_dash=GPU_DASHES[gpu % len(GPU_DASHES)] if key in gpus else None,
                                mode=_mode(len(part)), customdata=clocks(seconds), row=row, col=1,
                                hovertemplate=f"{RUN_IN_HOVER}<br>%{{customdata}} after its start<br>"
                                              f"{what}: %{{y:.1f}}<extra></extra>")
                in_legend.add(run)
        fig.update_yaxes(title_text=axis, row=row, col=1,
                         **(dict(range=[0, 105]) if percent else dict(rangemode="tozero")))
    fig.update_xaxes(rangemode="tozero")
    fig.update_xaxes(title_text=x_title, row=len(panels), col=1)
    return _style(fig, title, height=130 + PANEL_HEIGHT * len(panels))

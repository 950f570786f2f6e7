"""A search's trials in parallel coordinates: one axis per searched setting and one for the score,
one line per finished trial, coloured by its score on a scale whose ends both read on a white and
on a dark page (Optuna's own figure fades its low scores to near white)."""

import math

import plotly.graph_objects as go

from cnnkit.config import label
from cnnkit.explorer.charts._style import _note, _style

# Blue (low) through violet to orange-red (high), every stop of middling lightness, so each line
# contrasts at least 3:1 (WCAG's figure for graphics) with a white page and with Streamlit's dark one.
SCORE_COLORS = ["#3a78c9", "#7b6fd0", "#b07aa1", "#d9480f"]
MAX_TICKS = 6  # a log axis labels its trials' values up to this many, else its decades


def _axis(setting: str, values: list, log: bool) -> dict:
    """One parcoords dimension: choices as evenly spaced labelled ticks; a log-scaled range drawn in
    log10 with its values as tick labels."""
    name = label(setting)
    if any(isinstance(value, (str, bool)) or value is None for value in values):
        choices = sorted({str(value) for value in values})
        return dict(label=name, values=[choices.index(str(value)) for value in values],
                    tickvals=list(range(len(choices))), ticktext=choices)
    if log and all(value > 0 for value in values):
        ticks = sorted(set(values))
        if len(ticks) > MAX_TICKS:  # labels would overlap: decades instead
            ticks = [10.0 ** power for power in range(math.floor(math.log10(ticks[0])), math.ceil(math.log10(ticks[-1])) + 1)]
        return dict(label=name, values=[math.log10(value) for value in values],
                    tickvals=[math.log10(value) for value in ticks], ticktext=[f"{value:.3g}" for value in ticks])
    return dict(label=name, values=list(values))


def search_parallel_coordinates(trials: list, log_scaled: set[str], metric_label: str) -> go.Figure:
    """`trials`: the search's TrialSummary values (only COMPLETE ones are drawn); `log_scaled`: the
    settings searched on a log scale."""
    done = [trial for trial in trials if trial.state == "COMPLETE" and trial.value is not None]
    title = f"Trials by setting and {metric_label.lower()}"
    if not done:
        return _note(title, "No trial has finished yet.")
    scores = [trial.value for trial in done]
    settings = sorted({setting for trial in done for setting in trial.params})
    dimensions = [_axis(setting, [trial.params.get(setting) for trial in done], setting in log_scaled)
                  for setting in settings]
    dimensions.append(dict(label=metric_label, values=scores))
    figure = go.Figure(go.Parcoords(dimensions=dimensions, line=dict(
        color=scores, colorscale=[[i / (len(SCORE_COLORS) - 1), color] for i, color in enumerate(SCORE_COLORS)],
        showscale=True, colorbar=dict(title=dict(text=metric_label)))))
    return _style(figure, title)

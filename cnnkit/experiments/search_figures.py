"""Optuna's own figures of a search: its optimisation history and parameter importances, or a line
on why one is not there yet. (The parallel coordinates are cnnkit's own chart,
`explorer.charts.search_parallel_coordinates`, whose colours read on a white and a dark page.)"""

from dataclasses import dataclass, field
from typing import Any

import optuna


@dataclass(frozen=True)
class SearchFigures:
    """Optuna's own figures of a search, each a plotly figure or a line on why there is none yet."""

    history: Any
    importances: Any
    notes: dict[str, str] = field(default_factory=dict)


def figures(study: optuna.Study) -> SearchFigures:
    """Optimisation history and parameter importances (Optuna's plotly figures; the parallel
    coordinates are cnnkit's own, `explorer.charts.search_parallel_coordinates`)."""
    from optuna import visualization

    complete = [trial for trial in study.trials if trial.state.name == "COMPLETE"]
    notes: dict[str, str] = {}
    if not complete:
        message = "The figures appear once a trial has finished."
        return SearchFigures(None, None, {"history": message, "importances": message})
    history = visualization.plot_optimization_history(study)
    varied = {name for trial in complete for name in trial.params}
    if len(varied) < 2 or len(complete) < 2:
        importances = None
        notes["importances"] = ("Parameter importances need at least two searched settings and two finished "
                                f"trials (this search has {len(varied)} and {len(complete)}).")
    else:
        importances = visualization.plot_param_importances(study)
    return SearchFigures(history, importances, notes)

"""cnnkit.explorer.charts.search: a search's trials in parallel coordinates."""

import math

import plotly.colors
import pytest

from chart_figures import has_shared_look, note_text
from cnnkit.experiments.search import TrialSummary
from cnnkit.explorer import charts


def trial(number, state, value, **params):
    return TrialSummary(number, state, value, params, run_id=None, note=None)


TRIALS = [trial(0, "COMPLETE", 0.91, learning_rate=0.001, optimizer="adam", batch_size=32),
          trial(1, "COMPLETE", 0.62, learning_rate=0.1, optimizer="sgd", batch_size=64),
          trial(2, "PRUNED", None, learning_rate=0.01, optimizer="adam", batch_size=16),
          trial(3, "COMPLETE", 0.85, learning_rate=0.01, optimizer="adam", batch_size=16)]


def test_one_axis_per_setting_and_one_for_the_score_with_a_line_per_finished_trial():
    fig = charts.search_parallel_coordinates(TRIALS, {"learning_rate"}, "Validation accuracy")
    (parcoords,) = fig.data
    labels = [dimension.label for dimension in parcoords.dimensions]
    assert labels[-1] == "Validation accuracy" and len(labels) == 4
    scores = parcoords.dimensions[-1]
    assert list(scores.values) == [0.91, 0.62, 0.85]  # the pruned trial has no score: not drawn
    assert list(parcoords.line.color) == [0.91, 0.62, 0.85] and has_shared_look(fig)


def test_a_log_scaled_rate_is_drawn_in_log10_with_its_values_as_ticks_and_choices_as_labelled_ticks():
    fig = charts.search_parallel_coordinates(TRIALS, {"learning_rate"}, "Validation accuracy")
    by_label = {dimension.label: dimension for dimension in fig.data[0].dimensions}
    rate = next(dimension for label, dimension in by_label.items() if "rate" in label.lower())
    assert list(rate.values) == [-3.0, -1.0, -2.0]
    assert list(rate.tickvals) == [math.log10(v) for v in (0.001, 0.01, 0.1)]
    assert list(rate.ticktext) == ["0.001", "0.01", "0.1"]
    optimiser = next(dimension for dimension in by_label.values() if dimension.ticktext == ("adam", "sgd"))
    assert list(optimiser.values) == [0, 1, 0]
    batch = next(dimension for label, dimension in by_label.items() if "batch" in label.lower())
    assert list(batch.values) == [32, 64, 16] and batch.tickvals is None  # a linear range keeps its own axis


def test_a_log_axis_with_many_values_is_labelled_by_its_decades():
    many = [trial(n, "COMPLETE", 0.5 + n / 100, learning_rate=rate) for n, rate in enumerate(
        [0.00013, 0.0004, 0.0009, 0.002, 0.0051, 0.011, 0.03, 0.07])]
    (rate,) = charts.search_parallel_coordinates(many, {"learning_rate"}, "Validation accuracy").data[0].dimensions[:1]
    assert list(rate.ticktext) == ["0.0001", "0.001", "0.01", "0.1"]
    assert list(rate.tickvals) == pytest.approx([-4, -3, -2, -1])


def test_every_score_colour_reads_on_white_and_on_a_dark_page():
    # Optuna's own figure fades its lowest scores to near white (Blues: rgb(247,251,255), 1.03:1 on
    # white). WCAG's relative luminance and contrast ratio, against white and Streamlit's dark #0e1117.
    def luminance(color):
        red, green, blue = (channel / 255 for channel in plotly.colors.hex_to_rgb(color))
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def contrast(a, b):
        return (max(a, b) + 0.05) / (min(a, b) + 0.05)

    dark = luminance("#0e1117")
    scale = charts.search_parallel_coordinates(TRIALS, set(), "Validation accuracy").data[0].line.colorscale
    assert contrast(luminance("#f7fbff"), 1.0) < 3  # the check tells Optuna's lowest colour apart
    for _, color in scale:
        assert contrast(luminance(color), 1.0) >= 3 and contrast(luminance(color), dark) >= 3, color


def test_no_finished_trial_gives_a_note():
    fig = charts.search_parallel_coordinates(TRIALS[2:3], set(), "Validation accuracy")
    assert note_text(fig) == ["No trial has finished yet."]

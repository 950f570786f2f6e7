"""cnnkit.explorer.charts.ablation: band_curves and effects_chart (the Ablation page's and seed groups' charts)."""

import math

import pandas as pd
import pytest

from chart_figures import has_shared_look, note_text
from cnnkit.explorer import charts


def test_effects_chart_puts_each_level_as_a_dot_with_its_interval_against_a_line_at_zero():
    effects = pd.DataFrame({"factor": ["flip", "flip"], "level": ["horizontal", "both"], "baseline": ["none", "none"],
                            "effect": [0.02, -0.01], "low": [0.01, -0.03], "high": [0.05, 0.0], "seeds": [3, 5]})
    fig = charts.effects_chart(effects, "test_accuracy")
    dots = fig.data[0]
    assert list(dots.y) == ["flip: horizontal vs none", "flip: both vs none"]
    assert list(dots.error_x.array) == pytest.approx([0.03, 0.01])
    assert list(dots.error_x.arrayminus) == pytest.approx([0.01, 0.02])
    assert fig.layout.shapes[0].x0 == 0 and fig.layout.xaxis.tickformat == ".1%"
    assert fig.layout.height == 120 + 40 * 2 and has_shared_look(fig)


def test_effects_chart_and_band_curves_without_data_say_so():
    assert note_text(charts.effects_chart(pd.DataFrame(), "test_accuracy")) == ["no finished runs to measure effects on yet"]
    empty = pd.DataFrame(columns=["group", "epoch", "mean", "std", "runs"])
    assert note_text(charts.band_curves(empty, "val_loss")) == ["no validation loss recorded for these runs yet"]


def test_band_curves_show_accuracy_in_percent_and_the_run_count_in_the_hover():
    bands = pd.DataFrame({"group": ["a", "a"], "epoch": [1, 2], "mean": [0.5, 0.6], "std": [0.1, 0.1], "runs": [3, 3]})
    fig = charts.band_curves(bands, "val_accuracy")
    band, line = fig.data
    assert band.fill == "toself" and line.line.color.lower() == "#1f77b4" and band.fillcolor == "rgba(31, 119, 180, 0.2)"
    assert fig.layout.yaxis.tickformat == ".0%" and "runs)" in line.hovertemplate
    assert [row[1] for row in line.customdata] == [3, 3]


def test_an_effect_with_too_few_seeds_is_a_hollow_dot_without_a_bar_and_the_chart_says_why():
    effects = pd.DataFrame({"factor": ["flip", "batch_norm"], "level": ["horizontal", "False"],
                            "baseline": ["none", "True"], "effect": [0.5, -0.01], "low": [float("nan"), -0.03],
                            "high": [float("nan"), 0.0], "seeds": [2, 3]})
    fig = charts.effects_chart(effects, "test_accuracy")
    dots = fig.data[0]
    assert math.isnan(dots.error_x.array[0]) and math.isnan(dots.error_x.arrayminus[0])
    assert list(dots.error_x.array[1:]) == pytest.approx([0.01]) and list(dots.marker.symbol) == ["circle-open", "circle"]
    assert [note.text for note in fig.layout.annotations] == [
        "No bar: too few seeds for an interval: n=2, run ≥3 (5 for a useful width)"]
    assert list(dots.customdata)[0].startswith("too few seeds")


def test_a_one_epoch_curve_is_points_side_by_side_in_their_legend_colour_with_the_spread_as_a_bar_cut_at_100_percent():
    bands = pd.DataFrame({"group": ["a", "b"], "epoch": [1, 1], "mean": [0.95, 0.5], "std": [0.1, 0.1], "runs": [2, 2]})
    fig = charts.band_curves(bands, "val_accuracy")
    assert [trace.showlegend for trace in fig.data] == [None, None]  # no bands of no width, only the points
    assert [trace.mode for trace in fig.data] == ["lines+markers"] * 2 and fig.layout.scattermode == "group"
    assert all(trace.marker.color == trace.line.color == trace.error_y.color for trace in fig.data)
    assert fig.data[0].line.color != fig.data[1].line.color
    assert list(fig.data[0].error_y.array) == pytest.approx([0.05])  # 95 % + 10 % stops at 100 %
    assert list(fig.data[0].error_y.arrayminus) == pytest.approx([0.1])


def test_a_loss_band_stops_at_zero():
    bands = pd.DataFrame({"group": ["a", "a"], "epoch": [1, 2], "mean": [0.3, 0.1], "std": [0.1, 0.2], "runs": [3, 3]})
    band, line = charts.band_curves(bands, "val_loss").data
    assert list(band.y) == pytest.approx([0.4, 0.3, 0.0, 0.2]) and line.error_y.array is None


def test_an_effect_smaller_than_its_seed_noise_is_a_grey_diamond_inside_its_grey_band_and_the_title_says_so():
    effects = pd.DataFrame({"factor": ["flip", "batch_norm"], "level": ["horizontal", "False"],
                            "baseline": ["none", "True"], "effect": [0.05, -0.002], "low": [0.01, -0.01],
                            "high": [0.09, 0.006], "seeds": [3, 3], "noise": [0.01, 0.004],
                            "seeds_needed": pd.array([2, 52], dtype="Int64")})
    fig = charts.effects_chart(effects, "test_accuracy")
    dots = fig.data[0]
    assert list(dots.marker.symbol) == ["circle", "diamond"] and dots.marker.color[0] != dots.marker.color[1]
    bands = [shape for shape in fig.layout.shapes if shape.layer == "below"]
    assert [(band.x0, band.x1, band.y0) for band in bands] == [(-0.01, 0.01, 0), (-0.004, 0.004, 1)]
    assert "Grey diamond: smaller than its seed noise (1 of 2 effects)" in fig.layout.title.text
    assert "smaller than its seed noise" in dots.customdata[1] and "smaller" not in dots.customdata[0]


def test_effects_larger_than_their_noise_or_without_one_are_not_called_smaller():
    effects = pd.DataFrame({"factor": ["flip", "batch_norm"], "level": ["horizontal", "False"],
                            "baseline": ["none", "True"], "effect": [0.05, 0.0], "low": [0.01, float("nan")],
                            "high": [0.09, float("nan")], "seeds": [3, 2], "noise": [0.01, float("nan")],
                            "seeds_needed": pd.array([2, pd.NA], dtype="Int64")})
    fig = charts.effects_chart(effects, "test_accuracy")
    assert "diamond" not in list(fig.data[0].marker.symbol) and "seed noise" not in fig.layout.title.text
    assert len([shape for shape in fig.layout.shapes if shape.layer == "below"]) == 1  # no noise under 3 seeds

"""cnnkit.explorer.charts.ablation: band_curves and effects_chart (the Study page's and seed groups' charts)."""

import pandas as pd
import pytest

from chart_figures import has_shared_look, note_text
from cnnkit.explorer import charts


def test_effects_chart_puts_each_level_as_a_dot_with_its_interval_against_a_line_at_zero():
    effects = pd.DataFrame({"factor": ["flip", "flip"], "level": ["horizontal", "both"], "baseline": ["none", "none"],
                            "effect": [0.02, -0.01], "low": [0.01, -0.03], "high": [0.05, 0.0]})
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

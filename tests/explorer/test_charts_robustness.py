"""cnnkit.explorer.charts.robustness: a corruption sweep's heat map."""

import numpy as np
import pandas as pd

from chart_figures import note_text
from cnnkit.explorer import charts


def sweep_table() -> pd.DataFrame:
    rows = [(name, severity, accuracy) for name, base in (("shot_noise", 0.9), ("contrast", 0.8))
            for severity, accuracy in zip(range(1, 6), base - 0.1 * np.arange(5))]
    return pd.DataFrame(rows, columns=["corruption", "severity", "accuracy"])


def test_the_heat_map_has_corruptions_down_severities_across_on_a_fixed_scale():
    fig = charts.corruption_heatmap(sweep_table(), name="<b>run</b> 1")
    heatmap = fig.data[0]
    assert list(heatmap.y) == ["shot noise", "contrast"] and fig.layout.yaxis.autorange == "reversed"  # the sweep's order
    assert list(heatmap.x) == [f"severity {s}" for s in range(1, 6)]
    np.testing.assert_allclose(heatmap.z, [[0.9, 0.8, 0.7, 0.6, 0.5], [0.8, 0.7, 0.6, 0.5, 0.4]])
    assert (heatmap.zmin, heatmap.zmax) == (0, 1) and heatmap.text[0][0] == "90%"
    assert "&lt;b&gt;run&lt;/b&gt; 1" in fig.layout.title.text  # a typed name shows as typed
    assert "mean corruption accuracy 65.0%" in fig.layout.title.text


def test_a_run_without_a_sweep_gets_a_note():
    assert note_text(charts.corruption_heatmap(None)) == ["No corruption sweep yet"]
    assert note_text(charts.corruption_heatmap(sweep_table().iloc[:0])) == ["No corruption sweep yet"]

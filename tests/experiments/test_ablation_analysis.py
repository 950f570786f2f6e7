"""An ablation's statistics on hand-made numbers: cells' mean ± std, main effects with a known effect and
a known t-interval, learning-curve bands, and Compare's seed groups."""

import math

import numpy as np
import pandas as pd
import pytest

from cnnkit.explorer import charts, comparison
from cnnkit.experiments.ablation_analysis import cell_summary, curve_bands, main_effects

# accuracy = 0.80 + 0.10 (flip on) + 0.02 (batch norm off) + a seed's own offset, plus noise on flip's runs
NOISE = {0: 0.00, 1: 0.03, 2: -0.01}  # added to the flip=on runs only: per-seed flip effects 0.10, 0.13, 0.09
SEED_OFFSET = {0: 0.0, 1: 0.01, 2: -0.02}


def runs():
    rows = []
    for flip in ("off", "on"):
        for norm in ("on", "off"):
            for seed in (0, 1, 2):
                accuracy = 0.80 + SEED_OFFSET[seed] + (0.10 + NOISE[seed]) * (flip == "on") + 0.02 * (norm == "off")
                rows.append({"run_id": f"r{len(rows)}", "cell": {"flip": flip, "batch_norm": norm}, "seed": seed,
                             "test_accuracy": accuracy})
    return pd.DataFrame(rows)


def test_each_cell_has_the_mean_and_sample_std_of_its_seeds():
    summary = cell_summary(runs(), "test_accuracy")
    assert summary[["flip", "batch_norm"]].values.tolist() == [["off", "on"], ["off", "off"], ["on", "on"], ["on", "off"]]
    first = summary.iloc[0]
    assert first["runs"] == 3 and first["mean"] == pytest.approx(0.80 + (0.0 + 0.01 - 0.02) / 3)
    assert first["std"] == pytest.approx(np.std([0.80, 0.81, 0.78], ddof=1))


def test_a_known_effect_gets_its_mean_difference_and_its_t_interval_across_seeds():
    effects = main_effects(runs(), "test_accuracy").set_index("factor")
    flip = effects.loc["flip"]
    assert (flip["level"], flip["baseline"], flip["seeds"]) == ("on", "off", 3)
    differences = np.array([0.10, 0.13, 0.09])  # per seed, the seed offsets cancel
    half = 4.302652729911275 * differences.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert flip["effect"] == pytest.approx(differences.mean())
    assert (flip["low"], flip["high"]) == (pytest.approx(differences.mean() - half), pytest.approx(differences.mean() + half))
    norm = effects.loc["batch_norm"]  # the same +0.02 in every seed: no spread, a zero-width interval
    assert (norm["level"], norm["effect"], norm["low"], norm["high"]) == (
        "off", pytest.approx(0.02), pytest.approx(0.02), pytest.approx(0.02))


def test_one_seed_gives_an_effect_without_an_interval_and_missing_runs_are_left_out():
    frame = runs()
    one_seed = main_effects(frame[frame["seed"] == 1], "test_accuracy").set_index("factor")
    assert one_seed.loc["flip", "effect"] == pytest.approx(0.13) and math.isnan(one_seed.loc["flip", "low"])
    frame.loc[frame["seed"] == 2, "test_accuracy"] = np.nan  # seed 2's runs failed
    assert main_effects(frame, "test_accuracy").set_index("factor").loc["flip", "seeds"] == 2


def test_curve_bands_are_the_mean_and_std_per_group_and_epoch():
    history = pd.DataFrame({"run_id": ["a", "a", "b", "b", "c", "c"], "epoch": [1, 2] * 3,
                            "val_accuracy": [0.5, 0.7, 0.7, 0.9, 0.2, 0.3]})
    bands = curve_bands(history, {"c": "plain", "a": "flip", "b": "flip"}, "val_accuracy")
    assert bands["group"].tolist() == ["plain", "plain", "flip", "flip"]
    assert bands["mean"].tolist() == pytest.approx([0.2, 0.3, 0.6, 0.8])
    assert bands["std"].tolist() == pytest.approx([0, 0, np.std([0.5, 0.7], ddof=1), np.std([0.7, 0.9], ddof=1)])
    figure = charts.band_curves(bands, "val_accuracy")
    assert [trace.name for trace in figure.data if trace.showlegend is not False] == ["plain", "flip"]
    band = figure.data[2]  # flip's band: upper edge forward, lower edge back
    assert list(band.y) == pytest.approx([0.6 + 0.1414214, 0.8 + 0.1414214, 0.8 - 0.1414214, 0.6 - 0.1414214])


def test_runs_that_differ_only_by_seed_are_one_group():
    differing = pd.DataFrame({"base s0": ["0", "none"], "base s1": ["1", "none"], "flip s0": ["0", "horizontal"]},
                             index=pd.Index(["seed", "flip"], name="setting"))
    assert comparison.seed_groups(differing) == {"base s0 (2 seeds)": ["base s0", "base s1"], "flip s0": ["flip s0"]}
    assert comparison.seed_groups(differing.drop(index="flip")) == {"base s0 (3 seeds)": ["base s0", "base s1", "flip s0"]}

"""An ablation's statistics on hand-made numbers: cells' mean ± std, main effects with a known effect and
a known t-interval, learning-curve bands, and Compare's seed groups."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cnnkit.explorer import charts, comparison
from cnnkit.experiments.ablation_analysis import (
    cell_summary, cells_table, curve_bands, effects_table, main_effects, noise_note, report, within_noise,
)

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


def test_the_interval_is_scipys_t_interval_and_the_hand_worked_one():
    flip = main_effects(runs(), "test_accuracy").set_index("factor").loc["flip"]
    differences = [0.10, 0.13, 0.09]
    scipy_interval = stats.ttest_1samp(differences, 0.0).confidence_interval(0.95)
    assert (flip["low"], flip["high"]) == (pytest.approx(scipy_interval.low), pytest.approx(scipy_interval.high))
    assert stats.t.interval(0.95, 2, loc=np.mean(differences), scale=stats.sem(differences)) == (
        pytest.approx(flip["low"]), pytest.approx(flip["high"]))
    # by hand: mean 0.10667, sd 0.020817, se 0.012019, t(0.975, 2) 4.3027, half-width 0.051713
    assert (flip["low"], flip["high"]) == (pytest.approx(0.05495, abs=1e-5), pytest.approx(0.15838, abs=1e-5))


def test_an_accuracy_differences_interval_is_cut_to_what_is_possible():
    rows = [{"run_id": f"{flip}{seed}", "cell": {"flip": flip}, "seed": seed, "test_accuracy": accuracy}
            for seed, (off, on) in enumerate([(0.05, 0.95), (0.50, 0.60), (0.02, 0.99)])
            for flip, accuracy in (("off", off), ("on", on))]
    flip = main_effects(pd.DataFrame(rows), "test_accuracy").iloc[0]
    differences = [0.90, 0.10, 0.97]
    uncut = stats.ttest_1samp(differences, 0.0).confidence_interval(0.95)
    assert uncut.high > 1 and (flip["low"], flip["high"]) == (pytest.approx(uncut.low), 1.0)
    assert effects_table(main_effects(pd.DataFrame(rows), "test_accuracy"), "test_accuracy")[
        "95 % interval"].tolist() == [f"[{uncut.low * 100:+.2f} %, +100.00 %]"]


def test_under_three_seeds_an_effect_has_no_interval_and_the_table_says_why():
    frame = runs()
    two_seeds = main_effects(frame[frame["seed"] < 2], "test_accuracy")
    assert two_seeds["low"].isna().all() and two_seeds["high"].isna().all() and two_seeds["seeds"].tolist() == [2, 2]
    assert two_seeds.set_index("factor").loc["flip", "effect"] == pytest.approx((0.10 + 0.13) / 2)
    shown = effects_table(two_seeds, "test_accuracy")
    assert shown["95 % interval"].tolist() == [
        "too few seeds for an interval: n=2, run ≥3 (5 for a useful width)"] * 2
    assert shown["effect"].tolist() == ["+11.50 %", "+2.00 %"]


def test_one_seed_gives_an_effect_without_an_interval_and_missing_runs_are_left_out():
    frame = runs()
    one_seed = main_effects(frame[frame["seed"] == 1], "test_accuracy").set_index("factor")
    assert one_seed.loc["flip", "effect"] == pytest.approx(0.13) and math.isnan(one_seed.loc["flip", "low"])
    frame.loc[frame["seed"] == 2, "test_accuracy"] = np.nan  # seed 2's runs failed
    assert main_effects(frame, "test_accuracy").set_index("factor").loc["flip", "seeds"] == 2


def test_one_seed_cells_show_no_std_in_words_never_none():
    frame = runs()
    shown = cells_table(cell_summary(frame[frame["seed"] == 1], "test_accuracy"), "test_accuracy")
    assert shown["std"].tolist() == ["n/a (1 seed)"] * 4 and shown["mean"].tolist()[0] == "81.00 %"
    text = report(frame[frame["seed"] == 1], "test_accuracy")
    assert "None" not in text and "nan" not in text and "n/a (1 seed)" in text and "n=1, run ≥3" in text
    three = cells_table(cell_summary(frame, "test_accuracy"), "test_accuracy")
    assert three["std"].tolist()[0] == f"{np.std([0.80, 0.81, 0.78], ddof=1) * 100:.2f} %"
    losses = cells_table(cell_summary(frame.rename(columns={"test_accuracy": "test_loss"}), "test_loss"), "test_loss")
    assert losses["mean"].tolist()[0] == f"{np.mean([0.80, 0.81, 0.78]):.4f}"


def test_each_cell_shows_its_seed_to_seed_range_beside_its_std():
    summary = cell_summary(runs(), "test_accuracy")
    assert (summary["low"][0], summary["high"][0]) == (pytest.approx(0.78), pytest.approx(0.81))  # 0.80, 0.81, 0.78
    shown = cells_table(summary, "test_accuracy")
    assert list(shown.columns) == ["flip", "batch_norm", "runs", "mean", "std", "range"]
    assert shown["range"][0] == "78.00 % to 81.00 %"
    assert cells_table(cell_summary(runs()[runs()["seed"] == 1], "test_accuracy"), "test_accuracy")["range"][0] == "81.00 %"


def test_each_effect_has_its_pooled_seed_noise_and_the_seeds_per_cell_that_tell_it_at_80_percent_power():
    effects = main_effects(runs(), "test_accuracy").set_index("factor")
    # per seed, batch norm's levels averaged over flip: on 0.85, 0.875, 0.825 (sd 0.025), off the same + 0.02
    norm = effects.loc["batch_norm"]
    assert norm["noise"] == pytest.approx(0.025)
    assert norm["seeds_needed"] == 26  # d = 0.02 / 0.025 = 0.8: Cohen's (1988) Table 2.4.1 gives 26 per group
    # flip: off 0.81, 0.82, 0.79; on 0.91, 0.95, 0.88; their pooled sample sd by hand
    flip = effects.loc["flip"]
    pooled = math.sqrt((np.var([0.81, 0.82, 0.79], ddof=1) + np.var([0.91, 0.95, 0.88], ddof=1)) / 2)
    assert flip["noise"] == pytest.approx(pooled) and flip["seeds_needed"] == 3  # d ≈ 3.9
    assert within_noise(effects.reset_index()).tolist() == [False, True]
    shown = effects_table(effects.reset_index(), "test_accuracy")
    assert shown[["seed noise (std)", "seeds needed"]].values.tolist() == [["2.71 %", "3"], ["2.50 %", "26"]]


def test_an_effect_smaller_than_its_seed_noise_is_named_in_a_sentence_and_only_then():
    effects = main_effects(runs(), "test_accuracy")
    assert noise_note(effects, "test_accuracy") == (
        "batch_norm off vs on (+2.00 %) is smaller than its seed noise (std 2.50 %): 26 seeds per cell would tell "
        "it from that noise at 80 % power.")
    assert noise_note(effects, "test_accuracy") in report(runs(), "test_accuracy")
    bigger = runs().assign(test_accuracy=lambda frame: frame["test_accuracy"]
                           + 0.05 * frame["cell"].map(lambda cell: cell["batch_norm"] == "off"))
    assert noise_note(main_effects(bigger, "test_accuracy"), "test_accuracy") == ""
    assert "smaller than its seed noise" not in report(bigger, "test_accuracy")


def test_under_three_seeds_there_is_no_seed_noise_nor_seeds_needed_and_nothing_is_called_smaller():
    frame = runs()
    two_seeds = main_effects(frame[frame["seed"] < 2], "test_accuracy")
    assert two_seeds["noise"].isna().all() and two_seeds["seeds_needed"].isna().all()
    assert not within_noise(two_seeds).any() and noise_note(two_seeds, "test_accuracy") == ""
    assert effects_table(two_seeds, "test_accuracy")["seeds needed"].tolist() == ["–", "–"]


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

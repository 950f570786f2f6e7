"""Compare's seed groups (cnnkit.explorer.seed_spread): each group's spread over its seeds, and the seeds a
difference between groups needs, on hand-made results."""

import statistics

import pandas as pd

from cnnkit.explorer import seed_spread
from cnnkit.stats import seeds

RESULTS = pd.DataFrame({"run": ["a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "lone"],
                        "test_accuracy": [0.80, 0.81, 0.78, 0.82, 0.84, 0.80, 0.90, 0.92, 0.5]})
GROUPS = {"a0 (3 seeds)": ["a0", "a1", "a2"], "b0 (3 seeds)": ["b0", "b1", "b2"], "c0 (2 seeds)": ["c0", "c1"],
          "lone": ["lone"]}


def test_the_section_is_drawn_only_when_some_group_has_several_runs():
    assert seed_spread.has_seed_groups(GROUPS)
    assert not seed_spread.has_seed_groups({"x": ["x"], "y": ["y"]})


def test_each_group_has_its_mean_std_and_range_and_groups_of_three_seeds_the_seeds_they_need():
    table = seed_spread.seed_group_table(GROUPS, RESULTS).set_index("seed group")
    assert list(table.columns) == list(seed_spread.COLUMNS)[1:]
    a = table.loc["a0 (3 seeds)"]
    assert (a["runs"], a["mean"], a["std"], a["range"]) == (
        3, "79.67 %", f"{100 * statistics.stdev([0.80, 0.81, 0.78]):.2f} %", "78.00 % to 81.00 %")
    assert (a["difference"], a["seeds needed"]) == ("–", "–")  # the reference
    assert seed_spread.reference_of(GROUPS, RESULTS) == "a0 (3 seeds)"
    b = table.loc["b0 (3 seeds)"]
    needed = seeds.seeds_needed([0.80, 0.81, 0.78], [0.82, 0.84, 0.80])
    assert (b["difference"], b["seeds needed"]) == ("+2.33 %", f"{needed:,}")
    c = table.loc["c0 (2 seeds)"]  # two seeds: a spread, but too few to compare (the ablation's rule)
    assert (c["std"], c["range"], c["difference"], c["seeds needed"]) == (
        f"{100 * statistics.stdev([0.90, 0.92]):.2f} %", "90.00 % to 92.00 %", "–", "–")
    lone = table.loc["lone"]
    assert (lone["runs"], lone["std"], lone["range"]) == (1, "–", "–")


def test_without_a_group_of_three_seeds_nothing_is_compared():
    groups = {"c0 (2 seeds)": ["c0", "c1"], "lone": ["lone"]}
    assert seed_spread.reference_of(groups, RESULTS) is None
    assert set(seed_spread.seed_group_table(groups, RESULTS)["seeds needed"]) == {"–"}

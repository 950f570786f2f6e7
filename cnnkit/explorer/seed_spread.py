"""Compare's seed groups: runs whose settings differ only by their seed (`comparison.seed_groups`), and
how far their test accuracies spread from seed to seed (`stats.seeds`).

Each group of several runs gets its mean, its sample std and its range; each further group of
`ablation_analysis.MIN_SEEDS` runs or more (the ablation's rule: fewer seeds say nothing about the
noise) its difference from the first such group and the seeds per group that would tell that
difference from the groups' pooled seed noise at 80 % power, two-sided 5 % level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from cnnkit.experiments import ablation_analysis
from cnnkit.stats import seeds
from cnnkit.tracking import run_schema

COLUMNS = ("seed group", "runs", "mean", "std", "range", "difference", "seeds needed")


def has_seed_groups(groups: Mapping[str, Sequence[str]]) -> bool:
    """Whether any group holds several runs, the only case the section is drawn in."""
    return any(len(runs) > 1 for runs in groups.values())


def _percent(value: float, signed: bool = False) -> str:
    return "–" if value != value else f"{100 * value:{'+' if signed else ''}.2f} %"


def seed_group_table(groups: Mapping[str, Sequence[str]], results: pd.DataFrame,
                     metric: str = run_schema.TEST_ACCURACY) -> pd.DataFrame:
    """One row per group of `groups` (name -> its runs' display names, as `comparison.seed_groups`)
    with columns `COLUMNS`, as text: `runs` counts the runs with a value of `metric` in `results` (a
    row per run, display name in `run`, as `RunStore.results_table`); `difference` and `seeds needed`
    are against the first group of `MIN_SEEDS` runs or more (`reference_of`)."""
    values = results.set_index("run")[metric]
    measured = {group: values.reindex(list(runs)).dropna().to_numpy(float) for group, runs in groups.items()}
    reference = reference_of(groups, results, metric)
    rows = []
    for group, found in measured.items():
        spread = seeds.spread(found) if len(found) else seeds.SeedSpread(math.nan, math.nan, 0)
        row = [group, len(found), _percent(spread.mean), _percent(spread.std),
               f"{_percent(found.min())} to {_percent(found.max())}" if len(found) > 1 else "–", "–", "–"]
        if reference is not None and group != reference and len(found) >= ablation_analysis.MIN_SEEDS:
            needed = seeds.seeds_needed(measured[reference], found)
            row[-2:] = [_percent(spread.mean - measured[reference].mean(), signed=True),
                        f"more than {seeds.MOST_SEEDS:,}" if needed is None else f"{needed:,}"]
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def reference_of(groups: Mapping[str, Sequence[str]], results: pd.DataFrame,
                 metric: str = run_schema.TEST_ACCURACY) -> str | None:
    """The group the others are compared with: the first with `MIN_SEEDS` runs or more that have a
    value of `metric`; None when there is none."""
    values = results.set_index("run")[metric]
    return next((group for group, runs in groups.items()
                 if values.reindex(list(runs)).notna().sum() >= ablation_analysis.MIN_SEEDS), None)

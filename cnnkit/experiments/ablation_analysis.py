"""What an ablation found: per cell mean ± std, each factor's main effect with a 95 %
interval across seeds, and learning curves per cell as mean ± std.

Pure pandas and scipy on `RunStore.ablation_runs` frames (one row per run: `cell`, a dict factor ->
level label, `seed`, metric columns) and `RunStore.histories` frames; no MLflow or Streamlit.

A factor's main effect of level L is measured against its first level, the baseline, seed by seed:
for each seed, the mean of its runs at L (over every level of the other factors) minus the mean of
its runs at the baseline. The effect is the mean of those per-seed differences, and its interval
the t-interval mean ± t(0.975, n - 1) · sd / √n over the n seeds that have both, cut to what the
metric allows (an accuracy difference lies in [-1, 1]). Under `MIN_SEEDS` seeds there is no interval:
with 2 seeds t(0.975, 1) = 12.7 and the interval spans nearly everything, which says nothing.

Seed noise (`stats.seeds`): each cell's spread over its seeds (std and range), and per effect the
pooled seed-to-seed std of the level's and the baseline's per-seed values (`noise`) and how many seeds
per cell would tell the observed difference from that noise at 80 % power, two-sided 5 % level
(`seeds_needed`). An effect smaller than its noise (|effect| < noise) is flagged: it needs about 17
seeds or more, and a few seeds can't tell it from luck. Like the interval, both need `MIN_SEEDS` seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cnnkit.errors import InputError
from cnnkit.stats import seeds as seed_power
from cnnkit.tracking import RESULT_METRICS

EFFECT_COLUMNS = ("factor", "level", "baseline", "effect", "low", "high", "seeds", "noise", "seeds_needed")
CONFIDENCE = 0.95
MIN_SEEDS = 3  # the fewest seeds an interval is given for
USEFUL_SEEDS = 5  # t(0.975, 4) = 2.8: from here on the interval's width starts to tell something
INTERVAL_COLUMN = "95 % interval"
NOISE_COLUMN, NEEDED_COLUMN = "seed noise (std)", "seeds needed"  # effects_table's names of `noise`, `seeds_needed`


def bounds(metric: str) -> tuple[float, float]:
    """The values `metric` can take: an accuracy lies in [0, 1], a loss in [0, ∞)."""
    return (0.0, 1.0) if "accuracy" in metric else (0.0, np.inf)


def interval_note(seeds: int) -> str:
    """Why an effect resting on `seeds` seeds has no interval; empty when it has one."""
    if seeds >= MIN_SEEDS:
        return ""
    return f"too few seeds for an interval: n={seeds}, run ≥{MIN_SEEDS} ({USEFUL_SEEDS} for a useful width)"


def factors_of(runs: pd.DataFrame) -> list[str]:
    """The ablation's factors, in the order its cells name them."""
    return list(dict.fromkeys(factor for cell in runs["cell"] for factor in cell))


def by_factor(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with one column per factor (its level label) in place of `cell`."""
    factors = factors_of(runs)
    levels = pd.DataFrame([[cell.get(factor, "") for factor in factors] for cell in runs["cell"]],
                          columns=factors, index=runs.index)
    return pd.concat([levels, runs.drop(columns=["cell"])], axis=1)


def _levels(runs: pd.DataFrame, factor: str) -> list[str]:
    """A factor's levels in the order they first appear (the ablation's order: the baseline first)."""
    return list(dict.fromkeys(runs[factor]))


def cell_summary(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per cell, in the ablation's order: the factor columns, then `runs` (runs with a value),
    `mean` and `std` (sample std; nan for one run), `low` and `high` (the lowest and highest seed) of `metric`."""
    table = by_factor(runs)
    factors = factors_of(runs)
    grouped = table.groupby(factors, sort=False)[metric]
    return grouped.agg(runs="count", mean="mean", std="std", low="min", high="max").reset_index()


def main_effects(runs: pd.DataFrame, metric: str, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Each factor's main effect on `metric`, one row per non-baseline level, with the columns in
    `EFFECT_COLUMNS`: `effect` the mean per-seed difference from the baseline, `low`/`high` its
    t-interval at `confidence` cut to the differences `metric` allows (nan under `MIN_SEEDS` seeds),
    `seeds` how many seeds it rests on, `noise` and `seeds_needed` as the module says (nan and <NA>
    under `MIN_SEEDS` seeds; `seeds_needed` <NA> also where no count up to `stats.seeds.MOST_SEEDS` does)."""
    table = by_factor(runs).dropna(subset=[metric])
    low_value, high_value = bounds(metric)
    rows = []
    for factor in factors_of(runs):
        levels = _levels(table, factor)
        if not levels:
            continue
        per_seed = table.groupby(["seed", factor], sort=False)[metric].mean().unstack(factor)
        for level in levels[1:]:
            both = per_seed[[levels[0], level]].dropna()
            differences = (both[level] - both[levels[0]]).to_numpy()
            effect, low, high = _interval(differences, confidence)
            low, high = np.clip([low, high], low_value - high_value, high_value - low_value)  # nan stays nan
            rows.append((factor, level, levels[0], effect, low, high, len(differences),
                         *_noise(both[levels[0]], both[level])))
    effects = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))
    effects["seeds_needed"] = effects["seeds_needed"].astype("Int64")
    return effects


def _noise(baseline: pd.Series, level: pd.Series) -> tuple[float, int | None]:
    """The pooled seed-to-seed std of a level's and its baseline's per-seed values, and the seeds per cell
    that tell their difference from it; (nan, None) under `MIN_SEEDS` seeds."""
    if len(baseline) < MIN_SEEDS:
        return np.nan, None
    return seed_power.pooled_std(baseline, level), seed_power.seeds_needed(baseline, level)


def within_noise(effects: pd.DataFrame) -> np.ndarray:
    """Per effect (`main_effects`' rows), whether it is smaller than its seed noise (False without a noise)."""
    return (effects["effect"].abs() < effects["noise"]).to_numpy(dtype=bool)


def noise_note(effects: pd.DataFrame, metric: str) -> str:
    """One sentence per effect smaller than its seed noise, naming it and the seeds it needs; "" when none is."""
    signed, number = _number(metric, signed=True), _number(metric)
    return " ".join(
        f"{row.factor} {row.level} vs {row.baseline} ({signed(row.effect)}) is smaller than its seed noise "
        f"(std {number(row.noise)}): {_seeds_needed(row.seeds_needed)} seeds per cell would tell it from that noise at "
        "80 % power." for row in effects[within_noise(effects)].itertuples())


def _seeds_needed(needed) -> str:
    return f"more than {seed_power.MOST_SEEDS:,}" if needed is None or needed is pd.NA else f"{int(needed):,}"


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean and the t-interval around it; nan bounds under `MIN_SEEDS` values."""
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if len(values) < MIN_SEEDS:
        return mean, np.nan, np.nan
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def _number(metric: str, signed: bool = False):
    """A value of `metric` as text: accuracies in percent, losses with four decimals; "–" for none."""
    sign = "+" if signed else ""
    form = f"{{:{sign}.2f}} %" if "accuracy" in metric else f"{{:{sign}.4f}}"
    scale = 100 if "accuracy" in metric else 1
    return lambda value: "–" if value != value else form.format(value * scale)


def effects_table(effects: pd.DataFrame, metric: str) -> pd.DataFrame:
    """`main_effects` for a person: the effect and its interval as text, or why there is no interval; its
    seed noise and the seeds per cell it needs ("–" where the interval says why not)."""
    signed, number = _number(metric, signed=True), _number(metric)
    intervals = [f"[{signed(low)}, {signed(high)}]" if low == low else interval_note(seeds) or "–"
                 for low, high, seeds in zip(effects["low"], effects["high"], effects["seeds"])]
    needed = [_seeds_needed(count) if noise == noise else "–"
              for noise, count in zip(effects["noise"], effects["seeds_needed"])]
    return effects.assign(effect=effects["effect"].map(signed), **{INTERVAL_COLUMN: intervals,
                          NOISE_COLUMN: effects["noise"].map(number), NEEDED_COLUMN: needed})[
        ["factor", "level", "baseline", "effect", INTERVAL_COLUMN, "seeds", NOISE_COLUMN, NEEDED_COLUMN]]


def cells_table(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """`cell_summary` for a person: mean, std and the range over seeds as text; a cell of one run has no
    std ("n/a (1 seed)") and its range is its one value."""
    number = _number(metric)
    spread = ["n/a (1 seed)" if runs == 1 else number(std) for runs, std in zip(cells["runs"], cells["std"])]
    ranges = [f"{number(low)} to {number(high)}" if runs > 1 else number(low)
              for runs, low, high in zip(cells["runs"], cells["low"], cells["high"])]
    return cells.drop(columns=["low", "high"]).assign(mean=cells["mean"].map(number), std=spread, range=ranges)


def curve_bands(history: pd.DataFrame, groups: dict[str, str], metric: str, x: str = "epoch",
                by: str = "run_id") -> pd.DataFrame:
    """Mean ± std of `metric` per group and `x`: `history` is long (columns `by`, `x`, `metric`, as
    `RunStore.histories`), `groups` maps a run (its `by` value) to its group (e.g. a cell). Columns
    group, `x`, mean, std (0 where one run), runs; groups in the order of `groups`' values."""
    columns = ["group", x, "mean", "std", "runs"]
    if history.empty or metric not in history.columns:
        return pd.DataFrame(columns=columns)
    rows = history[history[by].isin(list(groups))].assign(group=lambda frame: frame[by].map(groups))
    rows = rows.dropna(subset=[metric])
    bands = rows.groupby(["group", x], sort=False)[metric].agg(mean="mean", std="std", runs="count").reset_index()
    bands["std"] = bands["std"].fillna(0.0)
    order = {group: position for position, group in enumerate(dict.fromkeys(groups.values()))}
    return bands.sort_values(["group", x], key=lambda column: column.map(order) if column.name == "group" else column,
                             kind="stable").reset_index(drop=True)[columns]


def report(runs: pd.DataFrame, metric: str) -> str:
    """The ablation's cells and effects as plain-text tables, for the command line."""
    if runs.empty:
        return "No runs of this ablation in the store."
    if metric not in RESULT_METRICS:
        raise InputError(f"Metric: '{metric}' is not one of {', '.join(RESULT_METRICS)}.")
    effects = main_effects(runs, metric)
    return "\n".join([
        f"{metric} per cell (mean, std and range over seeds):",
        cells_table(cell_summary(runs, metric), metric).to_string(index=False),
        "",
        f"Main effects on {metric} (mean difference from each factor's first level, across seeds):",
        effects_table(effects, metric).to_string(index=False),
        *filter(None, [noise_note(effects, metric)]),
    ])

"""Seed noise: how much a result moves when only the random seed changes, and how many seeds per cell
tell an observed difference from that noise (80 % power, two-sided 5 % level, two-sample t-test)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import nct, t

POWER = 0.8
ALPHA = 0.05
MOST_SEEDS = 1_000  # beyond this, "more seeds" is no answer: the difference is too small to chase


@dataclass(frozen=True)
class SeedSpread:
    """One cell's metric over its seeds: mean, sample standard deviation (nan for one seed) and count."""

    mean: float
    std: float
    seeds: int


def spread(values) -> SeedSpread:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("no seeds")
    return SeedSpread(mean=float(values.mean()), std=float(values.std(ddof=1)) if values.size > 1 else math.nan,
                      seeds=int(values.size))


def pooled_std(a_values, b_values) -> float:
    """The seed noise of two cells: their pooled sample standard deviation, each cell's variance weighted
    by its degrees of freedom (the t-test's). Needs two seeds in each cell."""
    a, b = spread(a_values), spread(b_values)
    if a.seeds < 2 or b.seeds < 2:
        raise ValueError("the spread needs at least two seeds per cell")
    return math.sqrt(((a.seeds - 1) * a.std ** 2 + (b.seeds - 1) * b.std ** 2) / (a.seeds + b.seeds - 2))


def power(effect: float, seeds: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided two-sample t-test with `seeds` per cell for a standardised difference
    `effect` (difference / pooled standard deviation): the noncentral t's mass beyond ± the critical value."""
    df = 2 * seeds - 2
    critical = t.ppf(1 - alpha / 2, df)
    shift = abs(effect) * math.sqrt(seeds / 2)
    return float(nct.sf(critical, df, shift) + nct.cdf(-critical, df, shift))


def seeds_needed(a_values, b_values, target: float = POWER, alpha: float = ALPHA) -> int | None:
    """The fewest seeds per cell that detect the observed difference of means against the cells'
    pooled seed-to-seed spread, with power `target`; None when no number up to `MOST_SEEDS` does
    (no difference at all, or one far smaller than the noise). Needs two seeds in each cell."""
    a, b = spread(a_values), spread(b_values)
    pooled = pooled_std(a_values, b_values)
    difference = abs(b.mean - a.mean)
    if difference == 0:
        return None
    if pooled == 0:
        return 2
    effect = difference / pooled
    low, high = 2, MOST_SEEDS
    if power(effect, high, alpha) < target:
        return None
    while low < high:  # power grows with the seeds: the first count reaching the target
        middle = (low + high) // 2
        low, high = (middle + 1, high) if power(effect, middle, alpha) < target else (low, middle)
    return low

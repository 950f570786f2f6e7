"""Seed spread and the seeds a difference needs, against Cohen's tables and a simulated t-test."""

import math
import statistics

import numpy as np
import pytest
from scipy.stats import ttest_ind

from cnnkit.stats import seeds

UNIT = np.array([-1, 1]) / math.sqrt(2)  # two seeds with mean 0 and sample standard deviation 1


def test_the_spread_is_the_mean_and_sample_standard_deviation():
    values = [0.981, 0.984, 0.979, 0.986]
    found = seeds.spread(values)
    assert (found.mean, found.std, found.seeds) == (pytest.approx(statistics.mean(values)),
                                                    pytest.approx(statistics.stdev(values)), 4)
    assert math.isnan(seeds.spread([0.98]).std)


@pytest.mark.parametrize(("effect", "needed"), [(0.5, 64), (0.8, 26), (1.0, 17)])
def test_seeds_needed_is_cohens_sample_size(effect, needed):
    """Cohen (1988), Statistical Power Analysis, Table 2.4.1: n per group for a two-sided two-sample
    t-test at a = .05 and power .80 (G*Power's exact values agree for these effects)."""
    assert seeds.seeds_needed(UNIT, UNIT + effect) == needed
    assert seeds.seeds_needed(3 * UNIT + 10, 3 * (UNIT + effect) + 10) == needed  # only the standardised size counts


def test_the_power_is_what_simulated_experiments_give():
    rng = np.random.default_rng(1)
    n, effect = 26, 0.8
    a, b = rng.normal(0, 1, (20_000, n)), rng.normal(effect, 1, (20_000, n))
    simulated = np.mean(ttest_ind(a, b, axis=1).pvalue < 0.05)
    assert seeds.power(effect, n) == pytest.approx(simulated, abs=0.01)
    assert seeds.power(effect, n - 1) < 0.8 <= seeds.power(effect, n)


def test_no_count_of_seeds_tells_no_difference_or_a_tiny_one():
    assert seeds.seeds_needed(UNIT, UNIT) is None
    assert seeds.seeds_needed(UNIT, UNIT + 0.05) is None  # about 6,300 per cell: past MOST_SEEDS
    assert seeds.seeds_needed([0.98, 0.98], [0.99, 0.99]) == 2  # no seed noise at all


def test_a_spread_needs_two_seeds_per_cell():
    with pytest.raises(ValueError):
        seeds.seeds_needed([0.98], [0.97, 0.99])


def test_the_pooled_seed_noise_weights_each_cells_variance_by_its_degrees_of_freedom():
    a, b = [0.97, 0.98, 0.99], [0.95, 0.99]  # variances 1e-4 (2 df) and 8e-4 (1 df)
    assert seeds.pooled_std(a, b) == pytest.approx(math.sqrt((2 * 1e-4 + 1 * 8e-4) / 3))
    assert seeds.pooled_std(a, a) == pytest.approx(statistics.stdev(a))
    with pytest.raises(ValueError):
        seeds.pooled_std([0.98], b)

"""benchmarks/median_interval.py: the order-statistic interval for a median, checked against SciPy."""

import numpy as np
import pytest
from scipy import stats

from median_interval import median_interval


@pytest.mark.parametrize("n", [6, 7, 10, 15, 30, 101])
def test_the_ranks_are_the_widest_binomial_ones_that_keep_each_tail_under_two_and_a_half_percent(n):
    values = np.random.default_rng(n).normal(1.0, 0.05, n)
    found = median_interval(values)
    k = max(rank for rank in range(1, n // 2 + 1) if stats.binom.cdf(rank - 1, n, 0.5) <= 0.025)
    ordered = np.sort(values)
    assert (found.low, found.high) == (ordered[k - 1], ordered[n - k])
    assert found.coverage == pytest.approx(1 - 2 * stats.binom.cdf(k - 1, n, 0.5))
    assert found.coverage >= 0.95 and stats.binom.cdf(k, n, 0.5) > 0.025  # one rank further would not be
    assert found.median == np.median(values)


def test_seven_rounds_give_their_smallest_and_largest_values_at_127_in_128():
    found = median_interval([1.02, 0.97, 1.00, 0.99, 1.05, 0.98, 1.01])  # worked by hand: P(none below) = 1/128
    assert (found.median, found.low, found.high) == (1.00, 0.97, 1.05)
    assert found.coverage == pytest.approx(1 - 2 / 128)
    assert found.describe() == "1.000 (98% interval 0.970 to 1.050)"


def test_five_rounds_are_too_few_for_a_95_percent_interval():
    found = median_interval([1.0, 2.0, 3.0, 4.0, 5.0])  # P(all on one side) = 1/32 > 2.5 %
    assert (found.median, found.low, found.high) == (3.0, None, None)
    assert found.describe() == "3.000 (too few rounds for an interval)"
    with pytest.raises(ValueError):
        median_interval([])

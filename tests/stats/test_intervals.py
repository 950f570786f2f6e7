"""The Wilson interval against published values and SciPy's own."""

import pytest
from scipy.stats import binomtest

from cnnkit.stats import intervals

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine
# 17, 857-872, Table I, method 3 (score interval without continuity correction).
NEWCOMBE = [((81, 263), (0.2553, 0.3662)), ((15, 148), (0.0624, 0.1605)), ((0, 20), (0.0, 0.1611)),
            ((1, 29), (0.0061, 0.1718)), ((29, 29), (0.8830, 1.0))]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE)
def test_the_interval_is_newcombes_published_one(counts, published):
    assert intervals.wilson(*counts) == pytest.approx(published, abs=5e-5)


@pytest.mark.parametrize(("right", "total"), [(9912, 10000), (9931, 10000), (350, 360), (0, 7), (7, 7), (1, 2)])
def test_the_interval_is_scipys_wilson_interval(right, total):
    expected = binomtest(right, total).proportion_ci(confidence_level=0.95, method="wilson")
    assert intervals.wilson(right, total) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_it_refuses_counts_that_are_no_proportion():
    for right, total in ((1, 0), (5, 4), (-1, 3)):
        with pytest.raises(ValueError):
            intervals.wilson(right, total)


def test_describe_writes_the_accuracy_with_its_interval_in_percent():
    assert intervals.describe(81, 263) == "30.80 % (95 % interval 25.53 to 36.62) on 263 images"

"""A distribution-free confidence interval for a median, for benchmarks that repeat a measurement
in rounds (e.g. a per-round speed ratio) on a shared, noisy machine.

The interval is the k-th smallest and k-th largest of n values: the true median lies outside it
only when fewer than k values fall on one side of it, which for any continuous distribution has the
probability of a Binomial(n, 1/2) count below k, on either side. k is the largest rank that keeps
this at most (1 - confidence) / 2 a side; no rank does for small n (fewer than 6 at 95 %).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class MedianInterval:
    median: float
    low: float | None  # None: too few values for an interval at the confidence asked
    high: float | None
    coverage: float | None  # the interval's exact coverage, at least the confidence asked

    def describe(self, digits: int = 3) -> str:
        """E.g. "0.981 (95 % interval 0.962 to 0.995)"."""
        if self.low is None:
            return f"{self.median:.{digits}f} (too few rounds for an interval)"
        return f"{self.median:.{digits}f} ({self.coverage:.0%} interval {self.low:.{digits}f} to {self.high:.{digits}f})"


def _below(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) < k)."""
    return sum(math.comb(n, i) for i in range(k)) / 2**n


def median_interval(values, confidence: float = 0.95) -> MedianInterval:
    """The median of `values` and the order-statistic interval around it (see the module docstring)."""
    ordered = sorted(float(value) for value in values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    tail = (1 - confidence) / 2
    k = max((rank for rank in range(1, n // 2 + 1) if _below(rank, n) <= tail), default=0)
    if k == 0:
        return MedianInterval(statistics.median(ordered), None, None, None)
    return MedianInterval(statistics.median(ordered), ordered[k - 1], ordered[n - k], 1 - 2 * _below(k, n))

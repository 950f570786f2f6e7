"""Is B really better than A? Two classifiers compared on the same test images, image by image.

Only the images one run gets right and the other wrong (the discordant pairs) tell them apart.
McNemar's exact test asks how often chance alone splits the discordant pairs at least this unevenly
(a two-sided binomial test at 1/2; Dietterich 1998 recommends it for two classifiers on one test
set). A paired bootstrap of the test images gives the 95 % interval of the accuracy difference. For
more than two runs, Holm's step-down correction keeps the chance of any false "better" at 5 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom

ALPHA = 0.05  # a difference "would arise by chance" less often than this: conclude
RESAMPLES = 2_000
SEED = 0  # the bootstrap is seeded: the same runs always get the same interval


def discordant(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[int, int]:
    """(images only A got right, images only B got right), from each run's right/wrong per test image."""
    a_correct, b_correct = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a_correct.shape != b_correct.shape:
        raise ValueError(f"the runs were tested on {a_correct.size} and {b_correct.size} images: not the same images")
    return int(np.count_nonzero(a_correct & ~b_correct)), int(np.count_nonzero(b_correct & ~a_correct))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided p-value of McNemar's exact test: under "equally good" each discordant image is a fair
    coin; the binomial is symmetric, so the two tails are twice the smaller one."""
    flips = only_a + only_b
    if flips == 0:
        return 1.0
    return float(min(1.0, 2 * binom.cdf(min(only_a, only_b), flips, 0.5)))


def bootstrap_interval(only_a: int, only_b: int, total: int, resamples: int = RESAMPLES, seed: int = SEED,
                       confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of accuracy(B) − accuracy(A) over `resamples` resamplings of the `total`
    test images with replacement (paired: an image is drawn with both runs' answers). A resample's
    difference depends only on how many A-only and B-only images it draws, a multinomial draw, so
    this costs `resamples` draws instead of `resamples` × `total` index lookups, with the same
    distribution."""
    shares = np.array([only_a, only_b, total - only_a - only_b], dtype=float) / total
    counts = np.random.default_rng(seed).multinomial(total, shares, size=resamples)
    differences = (counts[:, 1] - counts[:, 0]) / total
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low), float(high)


def chance(p_value: float) -> str:
    """How often chance alone gives a difference this large, in words: "about 1 time in 1,000"."""
    if p_value >= 0.5:
        return "more than half the time"
    if p_value < 1e-4:
        return "less than 1 time in 10,000"
    odds = 1 / p_value
    rounded = round(odds) if odds < 10 else int(float(f"{odds:.2g}"))
    return f"about 1 time in {rounded:,}"


@dataclass(frozen=True)
class PairedTest:
    """Runs `a` and `b` on the same `total` test images: how many each got right, the discordant
    counts, McNemar's p-value and the bootstrap interval (`low`, `high`) of accuracy(B) − accuracy(A)."""

    a: str
    b: str
    total: int
    a_right: int
    b_right: int
    only_a: int
    only_b: int
    p_value: float
    low: float
    high: float

    @property
    def difference(self) -> float:
        """accuracy(B) − accuracy(A), as a fraction."""
        return (self.b_right - self.a_right) / self.total

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def counts(self) -> pd.DataFrame:
        """The 2 × 2 table of images: A right or wrong (rows) by B right or wrong (columns); the
        off-diagonal cells are the discordant pairs."""
        both_right, both_wrong = self.a_right - self.only_a, self.total - self.a_right - self.only_b
        return pd.DataFrame([[both_right, self.only_a], [self.only_b, both_wrong]],
                            index=[f"{self.a} right", f"{self.a} wrong"], columns=[f"{self.b} right", f"{self.b} wrong"])

    def sentence(self) -> str:
        """The verdict in one plain sentence, the better run named first."""
        if self.a_right == self.b_right:
            return (f"{self.a} and {self.b} got the same {self.a_right:,} of {self.total:,} test images right "
                    f"(they disagree on {self.only_a + self.only_b:,}): within what chance gives, don't conclude.")
        b_ahead = self.b_right > self.a_right
        better, worse = (self.b, self.a) if b_ahead else (self.a, self.b)
        low, high = (self.low, self.high) if b_ahead else (-self.high, -self.low)
        lead = (f"by {100 * abs(self.difference):.2f} points "
                f"(95 % interval {100 * low:.2f} to {100 * high:.2f})")
        if self.significant:
            return (f"{better} is better than {worse} {lead}; a difference this large would arise by chance "
                    f"{chance(self.p_value)}.")
        return (f"{better} is ahead of {worse} {lead}, but a difference this large would arise by chance "
                f"{chance(self.p_value)}: within what chance gives, don't conclude.")


def paired_test(a_correct: np.ndarray, b_correct: np.ndarray, a: str = "A", b: str = "B",
                resamples: int = RESAMPLES, seed: int = SEED) -> PairedTest:
    """Compare runs `a` and `b` from their right (True) / wrong answers on the same test images."""
    only_a, only_b = discordant(a_correct, b_correct)
    total = int(np.asarray(a_correct).size)
    if total == 0:
        raise ValueError("no test images to compare")
    low, high = bootstrap_interval(only_a, only_b, total, resamples, seed)
    return PairedTest(a=a, b=b, total=total, a_right=int(np.count_nonzero(a_correct)),
                      b_right=int(np.count_nonzero(b_correct)), only_a=only_a, only_b=only_b,
                      p_value=mcnemar_exact(only_a, only_b), low=low, high=high)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), in the order given: the k-th smallest of m is
    multiplied by m − k + 1, kept at least its predecessor's and at most 1."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values, kind="stable")
    scaled = p_values[order] * (len(p_values) - np.arange(len(p_values)))
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


PAIRWISE_COLUMNS = ("A", "B", "B − A (points)", "95 % interval", "only A right", "only B right", "p", "p (Holm)",
                    "verdict")


def pairwise_table(tests: Sequence[PairedTest]) -> pd.DataFrame:
    """One row per pair (columns `PAIRWISE_COLUMNS`), with Holm-adjusted p-values over all the pairs and
    a verdict at 5 % after that adjustment."""
    adjusted = holm([test.p_value for test in tests])
    rows = [(test.a, test.b, 100 * test.difference, f"{100 * test.low:.2f} to {100 * test.high:.2f}", test.only_a,
             test.only_b, test.p_value, p, _verdict(test, p)) for test, p in zip(tests, adjusted)]
    return pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))


def _verdict(test: PairedTest, adjusted_p: float) -> str:
    if adjusted_p >= ALPHA or test.a_right == test.b_right:
        return "don't conclude"
    return f"{test.b if test.difference > 0 else test.a} better"

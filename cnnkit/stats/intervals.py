"""The 95 % interval of an accuracy (a proportion of test images right).

Wilson's score interval (Wilson 1927): unlike the textbook p ± 1.96·√(p(1−p)/n) it stays inside
[0, 1] and keeps close to its nominal coverage near 0 % and 100 %, where good models live (Brown, Cai
& DasGupta 2001 recommend it; Newcombe 1998 gives worked examples, pinned in the tests).
"""

from __future__ import annotations

import math

from scipy.stats import norm


def wilson(right: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) of the Wilson interval for `right` out of `total`, as fractions."""
    if total <= 0:
        raise ValueError("an interval needs at least one test image")
    if not 0 <= right <= total:
        raise ValueError(f"right ({right}) must lie between 0 and total ({total})")
    z = float(norm.ppf(0.5 + confidence / 2))
    share = right / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


def describe(right: int, total: int) -> str:
    """E.g. "97.25 % (95 % interval 95.04 to 98.52) on 360 images"."""
    low, high = wilson(right, total)
    return f"{100 * right / total:.2f} % (95 % interval {100 * low:.2f} to {100 * high:.2f}) on {total:,} images"

"""The trust statistics of one run pair on a 10,000-image test set (issue 23's target: 1 s in all).

    .venv/bin/python benchmarks/trust_stats.py [--images 10000] [--classes 10] [--repeats 5]

Synthetic softmax outputs of two runs on the same test images (about 95 % accurate, over-confident by
a temperature of 2) and a validation set of the same size. Times, each as the median of `--repeats` calls: the paired test (discordant
counts, McNemar's exact test, the 2,000-resample paired bootstrap), both Wilson intervals, one run's
calibration report (15 bins, ECE, MCE, NLL, Brier) and its temperature fit on the validation
predictions; then the total against the 1 s target. The baseline, in the same process: both runs'
plain accuracy (argmax, compare, mean) on the same arrays; and, for scale, the bootstrap done the
plain way (2,000 index resamples of the test images) that the multinomial draw replaces.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy.special import softmax

from cnnkit.stats import calibration, intervals, paired

TARGET_S = 1.0


def timed(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def predictions(rng, images: int, classes: int, y: np.ndarray) -> np.ndarray:
    """Softmax outputs over-confident by a temperature of 2: the class a draw at temperature 2 picks gets
    the largest logit (so the run is wrong where the draw missed `y`), and the logits go out at 1."""
    logits = rng.normal(0, 1, (images, classes))
    logits[np.arange(images), y] += 11.0
    drawn = (rng.random(images)[:, None] > softmax(logits / 2, axis=1).cumsum(axis=1)).sum(axis=1)
    logits[np.arange(images), drawn], logits[np.arange(images), y] = logits[np.arange(images), y], logits[
        np.arange(images), drawn]  # the drawn class gets the largest logit: the model is wrong where the draw was
    return softmax(logits, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y_test, y_val = rng.integers(0, args.classes, args.images), rng.integers(0, args.classes, args.images)
    a, b = (predictions(rng, args.images, args.classes, y_test) for _ in range(2))
    validation = predictions(rng, args.images, args.classes, y_val)

    def accuracy():
        return [(p.argmax(axis=1) == y_test).mean() for p in (a, b)]

    a_right, b_right = (p.argmax(axis=1) == y_test for p in (a, b))

    def plain_bootstrap():
        draws = np.random.default_rng(0).integers(0, args.images, (paired.RESAMPLES, args.images))
        return np.percentile(b_right[draws].mean(axis=1) - a_right[draws].mean(axis=1), [2.5, 97.5])

    steps = {
        "paired test (McNemar + 2,000-resample bootstrap)":
            lambda: paired.paired_test(a.argmax(axis=1) == y_test, b.argmax(axis=1) == y_test),
        "Wilson intervals (both runs)":
            lambda: [intervals.wilson(int(right.sum()), right.size) for right in (a_right, b_right)],
        "calibration report (15 bins, ECE, MCE, NLL, Brier)": lambda: calibration.report(a, y_test),
        "temperature fit (validation set)": lambda: calibration.fit_temperature(calibration.logits_of(validation), y_val),
    }
    baseline = timed(accuracy, args.repeats)
    print(f"{args.images:,} test images, {args.classes} classes; median of {args.repeats} calls")
    print(f"  baseline: plain accuracy of both runs       {baseline * 1000:8.1f} ms")
    total = 0.0
    for name, work in steps.items():
        seconds = timed(work, args.repeats)
        total += seconds
        print(f"  {name:<52} {seconds * 1000:8.1f} ms  ({seconds / baseline:,.0f}x the baseline)")
    print(f"  total {total:.3f} s against the {TARGET_S:.0f} s target: {'met' if total <= TARGET_S else 'MISSED'}; "
          f"{total / baseline:,.0f}x the baseline")
    plain = timed(plain_bootstrap, 1)
    print(f"  for scale: the bootstrap by index resampling  {plain * 1000:8.1f} ms (once)")
    found = paired.paired_test(a_right, b_right)
    temperature = calibration.fit_temperature(calibration.logits_of(validation), y_val)
    before, after = (calibration.report(p, y_test).ece for p in (a, calibration.scaled(calibration.logits_of(a), temperature)))
    print(f"  accuracies: {intervals.describe(found.a_right, found.total)}; {intervals.describe(found.b_right, found.total)}")
    print(f"  verdict: {found.sentence()}")
    print(f"  temperature {temperature:.2f}: ECE {100 * before:.2f} % -> {100 * after:.2f} %")


if __name__ == "__main__":
    main()

"""How long the label finder takes once probabilities exist (issue 24's target: a 10,000-example split in
at most 5 s): `label_issues.find_label_issues` (cleanlab's confident learning and the ranked table) on a
split of `--size` synthetic predictions, against the plain ranking by the given label's probability (one
argsort, what confident learning refines) on the same arrays, alternated in one process.

    .venv/bin/python benchmarks/label_issues_speed.py [--size 10000] [--classes 10] [--rounds 5]

The predictions are those of a 97 %-accurate network with 2 % of the labels flipped: only the split's
size and number of classes matter to the time. No dataset or model needed. Prints `uptime` first and
last: the figures mean little on a loaded machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import numpy as np

from cnnkit.explorer import label_issues


def synthetic_split(size: int, classes: int, seed: int = 0) -> label_issues.HeldOut:
    """Softmax outputs peaked on the true class (3 % of them on another), with 2 % of the labels flipped."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, size)
    believed = np.where(rng.random(size) < 0.03, rng.integers(0, classes, size), truth)
    logits = rng.normal(0, 1, (size, classes))
    logits[np.arange(size), believed] += 6
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.where(rng.random(size) < 0.02, (truth + rng.integers(1, classes, size)) % classes, truth)
    return label_issues.HeldOut("test", probabilities.astype(np.float32), labels)


def plain_ranking(split: label_issues.HeldOut) -> np.ndarray:
    return np.argsort(split.probabilities[np.arange(len(split.labels)), split.labels], kind="stable")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    split = synthetic_split(args.size, args.classes)
    names = [f"class {c}" for c in range(args.classes)]
    found, plain = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        table = label_issues.find_label_issues([split], names)
        found.append(time.perf_counter() - started)
        started = time.perf_counter()
        plain_ranking(split)
        plain.append(time.perf_counter() - started)
    print(f"find_label_issues, {args.size:,} examples x {args.classes} classes: median {statistics.median(found):.3f} s "
          f"(max {max(found):.3f}), {len(table):,} suspects")
    print(f"plain ranking by p(given label): median {statistics.median(plain) * 1000:.2f} ms; "
          f"confident learning takes {statistics.median(found) / statistics.median(plain):,.0f}x that")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()

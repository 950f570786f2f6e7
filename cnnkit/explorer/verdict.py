"""Compare's verdict: is one run really better than another, or within what chance gives?

Runs tested on the same images (equal test fingerprints, see `comparison.Comparability`) are
compared image by image (`stats.paired`): two runs in one sentence, more in a pairwise table with
Holm's correction. Runs tested on different images get a sentence saying why no paired test applies;
every run's accuracy comes with its Wilson interval (`stats.intervals`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

import cnnkit.explorer.comparison as comparison
from cnnkit.stats import intervals, paired


@dataclass(frozen=True)
class Verdict:
    accuracies: dict[str, str]  # run -> its test accuracy with its 95 % interval, in words
    pair: paired.PairedTest | None  # two runs on the same images
    table: pd.DataFrame | None  # more runs: one row per pair on the same images (`stats.paired.pairwise_table`)
    notes: list[str]  # why no paired test applies, where it doesn't

    @property
    def sentence(self) -> str | None:
        return self.pair.sentence() if self.pair else None


def correct_answers(evaluation) -> np.ndarray:
    """Right (True) or wrong per test image of an evaluation (`tracking.RunEvaluation`): every image
    but its mistakes."""
    right = np.ones(int(np.asarray(evaluation.confusion).sum()), dtype=bool)
    right[evaluation.mistakes["index"].to_numpy(dtype=np.int64)] = False
    return right


def verdict(evaluations: Mapping[str, object], comparable: comparison.Comparability) -> Verdict:
    """The verdict on runs' evaluations (display name -> evaluation, at least two), whose test images
    `comparable` knows (`comparison.comparability` of the same evaluations)."""
    runs = list(evaluations)
    answers = {run: correct_answers(evaluation) for run, evaluation in evaluations.items()}
    accuracies = {run: intervals.describe(int(right.sum()), right.size) for run, right in answers.items()}
    pairs = [(a, b) for j, b in enumerate(runs) for a in runs[:j] if comparable.same_test_images((a, b))]
    tests = [paired.paired_test(answers[a], answers[b], a, b) for a, b in pairs]
    if len(runs) == 2:
        return Verdict(accuracies, tests[0] if tests else None, None, [] if tests else [_why_not(comparable, *runs)])
    alone = [run for run in runs if not any(run in pair for pair in pairs)]
    notes = [_alone(comparable, run) for run in alone]
    if not tests:
        notes.append("No paired test: no two of these runs were tested on the same images.")
    return Verdict(accuracies, None, paired.pairwise_table(tests) if tests else None, notes)


def _why_not(comparable: comparison.Comparability, a: str, b: str) -> str:
    unknown = [run for run in (a, b) if comparable.test_sets[run] is None]
    if unknown:
        return (f"No paired test: {unknown[0]} has no record of which test images it saw, so its answers can't be "
                f"paired image by image with {b if unknown[0] == a else a}'s. Compare their intervals instead.")
    return (f"No paired test: {a} and {b} were tested on different images ({comparable.test_images[a]:,} and "
            f"{comparable.test_images[b]:,}: another dataset, split or subset), so their right and wrong answers "
            "can't be paired image by image. Compare their intervals instead; where they overlap, don't conclude.")


def _alone(comparable: comparison.Comparability, run: str) -> str:
    if comparable.test_sets[run] is None:
        return f"{run} has no record of which test images it saw, so no paired test applies to it."
    return (f"{run} was tested on other images than every other run here ({comparable.test_images[run]:,}: another "
            "dataset, split or subset), so no paired test applies to it.")

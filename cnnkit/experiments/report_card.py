"""Can this result be trusted? A run's report card: its test accuracy with a 95 % Wilson interval, its
calibration before and after temperature scaling, its robustness to corruptions and the statistics of
Classify's out-of-distribution hint, each with one plain sentence, from what the run logged.

It sits in `experiments` (not `explorer`) because `export` writes it into the model card. The hint's
statistics need the run's model on its test images (`models.predict.test_reference`): callers compute
them on demand and hand them in; without them the card says so.

Each sentence's thresholds are the constants below."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnkit.models import predict
from cnnkit.stats import intervals
from cnnkit.tracking import RunStore, RunSummary, run_schema
from cnnkit.training import Calibration

WIDE_INTERVAL = 0.01  # a half-width above 1 point: too few test images to separate runs that close
WELL_CALIBRATED = 0.01  # ECE at or below 1 %: "well calibrated"; above: over- or under-confident
ROBUST_DROP = 0.05  # a drop of up to 5 points under corruption: "holds up"; above: "loses"
HARDEST = 3  # the corruptions the card names, lowest mean accuracy over the severities first
SURE_REFERENCE = 0.9  # the hint's confidence threshold at or above this: the model is sure of its test images
SWEEP_HOW = ("start one with “Run a corruption sweep” on the run's view (Runs page) or "
             "`python -m cnnkit corruptions RUN_ID`")


@dataclass(frozen=True)
class Accuracy:
    accuracy: float
    images: int | None  # test images it was measured on; None: logged before runs recorded them
    low: float = math.nan  # the 95 % Wilson interval (nan without `images`)
    high: float = math.nan


@dataclass(frozen=True)
class Robustness:
    clean: float  # accuracy on the sweep's images as they are
    mean: float  # mean corruption accuracy (mCA)
    drop: float  # clean - mean
    images: int
    hardest: tuple[tuple[str, float], ...]  # (corruption, its mean accuracy over the severities), worst first
    table: pd.DataFrame  # the sweep as `RunStore.corruption_table` gives it, for the heat map


@dataclass(frozen=True)
class HintReference:
    """Classify's out-of-distribution hint on this run: an image is flagged when its top probability is
    under `confidence_threshold` or its features' cosine similarity to its k-th nearest test image is under
    `similarity_threshold` (each: what `predict.UNFAMILIAR_SHARE` of the test images exceed)."""

    images: int  # test images in the reference
    median_confidence: float
    confidence_threshold: float
    similarity_threshold: float


@dataclass(frozen=True)
class Part:
    title: str
    sentence: str
    known: bool  # False: the card has no numbers for it; `sentence` says why and how to get them


@dataclass(frozen=True)
class ReportCard:
    run_name: str
    status: str
    accuracy: Accuracy | None
    calibration: Calibration | None
    robustness: Robustness | None
    hint: HintReference | None

    def parts(self) -> tuple[Part, ...]:
        return (Part("Test accuracy", accuracy_sentence(self.accuracy), self.accuracy is not None),
                Part("Calibration", calibration_sentence(self.calibration, self.status), self.calibration is not None),
                Part("Robustness", robustness_sentence(self.robustness, self.status), self.robustness is not None),
                Part("Out-of-distribution hint", hint_sentence(self.hint), self.hint is not None))


def read_card(store: RunStore, run_id: str, hint: HintReference | None = None) -> ReportCard:
    """Run `run_id`'s card from what `store` holds of it; `hint` from `hint_reference` when computed."""
    run = store.run(run_id)
    calibration = None
    if run_schema.TEST_ECE in run.metrics:
        calibration = Calibration.from_json(store.load_json_artifact(run_id, run_schema.CALIBRATION))
    table = store.corruption_table(run_id) if run_schema.CORRUPTION_MEAN_ACCURACY in run.metrics else None
    return card_of(run, calibration, table, hint)


def card_of(run: RunSummary, calibration: Calibration | None, sweep: pd.DataFrame | None,
            hint: HintReference | None = None) -> ReportCard:
    """The card of `run` (its metrics and test images), its logged `calibration` and `sweep` table."""
    return ReportCard(run.name, run.status, accuracy_of(run.metrics, run.test_images), calibration,
                      robustness_of(run.metrics, sweep), hint)


def accuracy_of(metrics: dict[str, float], images: int | None) -> Accuracy | None:
    accuracy = metrics.get(run_schema.TEST_ACCURACY)
    if accuracy is None or math.isnan(accuracy):
        return None
    if not images:
        return Accuracy(accuracy, None)
    return Accuracy(accuracy, images, *intervals.wilson(min(images, round(accuracy * images)), images))


def robustness_of(metrics: dict[str, float], sweep: pd.DataFrame | None) -> Robustness | None:
    if sweep is None or run_schema.CORRUPTION_MEAN_ACCURACY not in metrics:
        return None
    by_corruption = sweep.groupby("corruption", sort=False)["accuracy"].mean().sort_values(kind="stable")
    return Robustness(metrics[run_schema.CORRUPTION_CLEAN_ACCURACY], metrics[run_schema.CORRUPTION_MEAN_ACCURACY],
                      metrics[run_schema.CORRUPTION_DROP], int(metrics.get(run_schema.CORRUPTION_IMAGES, 0)),
                      tuple((str(name), float(value)) for name, value in by_corruption.head(HARDEST).items()), sweep)


def hint_reference(reference: predict.TestReference) -> HintReference:
    """The hint's thresholds from the model's view of the test images (`predict.test_reference`): the
    values below which `TestReference.rank` finds an image less sure, or farther, than
    `predict.UNFAMILIAR_SHARE` of them."""
    return HintReference(len(reference.confidences), float(np.median(reference.confidences)),
                         _flag_below(reference.confidences), _flag_below(reference.neighbour_similarity))


def _flag_below(values: np.ndarray) -> float:
    """The value v with mean(values > x) >= UNFAMILIAR_SHARE exactly when x < v: the m-th largest value,
    m the fewest values above x that make that share."""
    count = len(values)
    if count == 0:
        return math.nan
    needed = next(m for m in range(1, count + 1) if m / count >= predict.UNFAMILIAR_SHARE)
    return float(np.sort(values)[count - needed])


# ---- the sentences -----------------------------------------------------------------------


def accuracy_sentence(accuracy: Accuracy | None) -> str:
    if accuracy is None:
        return "No test accuracy: the run has not finished its evaluation on the test split."
    if accuracy.images is None:
        return (f"Test accuracy {accuracy.accuracy:.2%}, with no 95 % interval: the run was logged before runs "
                "recorded how many test images they were evaluated on (a new run records it).")
    half = (accuracy.high - accuracy.low) / 2
    said = (f"{accuracy.accuracy:.2%} right on {accuracy.images:,} test images "
            f"(95 % interval {accuracy.low:.2%} to {accuracy.high:.2%})")
    if half > WIDE_INTERVAL:
        return f"Wide interval: {said}; too few test images to tell apart runs within ±{100 * half:.1f} points."
    return f"Narrow interval: {said}; differences of more than ±{100 * half:.1f} points are worth testing on Compare."


def mean_gap(report) -> float:
    """Mean top-label confidence less accuracy over the test images (> 0: over-confident), from the bins."""
    bins = report.bins[report.bins["count"] > 0]
    count = bins["count"].sum()
    return float(((bins["confidence"] - bins["accuracy"]) * bins["count"]).sum() / count) if count else 0.0


def calibration_sentence(calibration: Calibration | None, status: str = "FINISHED") -> str:
    if calibration is None:
        if status != "FINISHED":
            return "No calibration yet: it is measured on the test split when the run finishes."
        return ("No calibration: the run was trained before cnnkit measured it at a run's end; relaunch it "
                "(Manage & relaunch) to get one.")
    before = calibration.before
    if before.ece <= WELL_CALIBRATED:
        said = f"Well calibrated: ECE {before.ece:.1%}"
    else:
        gap = mean_gap(before)
        said = (f"{'Over' if gap > 0 else 'Under'}-confident: ECE {before.ece:.1%}, its confidence "
                f"{abs(100 * gap):.1f} points {'above' if gap > 0 else 'below'} its accuracy on average")
    if calibration.after is None:
        return f"{said}; no temperature (the run had no validation split to fit one on)."
    return f"{said}; temperature T = {calibration.temperature:.2f} brings ECE to {calibration.after.ece:.1%}."


def robustness_sentence(robustness: Robustness | None, status: str = "FINISHED") -> str:
    if robustness is None:
        if status != "FINISHED":
            return "No corruption sweep: a run is swept once it has finished."
        return f"No corruption sweep yet: {SWEEP_HOW}."
    worst = ", ".join(f"{_spoken(name)} ({value:.1%})" for name, value in robustness.hardest)
    points = 100 * robustness.drop
    verdict = "Holds up" if robustness.drop <= ROBUST_DROP else "Fragile"
    return (f"{verdict}: loses {points:.1f} points under corruption (clean {robustness.clean:.1%}, mean corruption "
            f"accuracy {robustness.mean:.1%} on {robustness.images:,} test images); worst: {worst}.")


def _spoken(corruption: str) -> str:
    """A corruption's name as the heat map writes it: motion_blur -> motion blur."""
    return corruption.replace("_", " ")


def hint_sentence(hint: HintReference | None) -> str:
    if hint is None:
        return ("Not computed: the hint's statistics need the run's model on its test images "
                "(the run's view computes them on demand; `export` does when it can reload the test split).")
    if hint.images < predict.MIN_REFERENCE_IMAGES:
        return (f"Only {hint.images} test images: too few for Classify to tell whether an image looks like the "
                "training data.")
    share = f"{predict.UNFAMILIAR_SHARE:.0%}"
    flags = (f"Classify flags an image as unfamiliar when its top probability is under "
             f"{hint.confidence_threshold:.1%} or it lies farther from its nearest test images (cosine similarity "
             f"to the {predict.NEIGHBOURS}th under {hint.similarity_threshold:.2f}) than {share} of the "
             f"{hint.images:,} test images do")
    if hint.confidence_threshold >= SURE_REFERENCE:
        return f"Sharp: {flags}; the model is sure of its test images (median {hint.median_confidence:.1%})."
    return (f"Blunt by confidence: {flags}; the model is unsure of many of its own test images "
            f"(median {hint.median_confidence:.1%}), so mostly the distance flags.")


# ---- the card in Markdown (the model card's section) ---------------------------------------


def markdown(card: ReportCard) -> list[str]:
    """The model card's section "Can this result be trusted?": each part's sentence, then its numbers."""
    lines = ["## Can this result be trusted?", ""]
    for part in card.parts():
        lines += [f"**{part.title}.** {part.sentence}", ""]
        if part.title == "Calibration" and card.calibration is not None:
            lines += _calibration_table(card.calibration)
        if part.title == "Robustness" and card.robustness is not None:
            lines += ["| corruption | mean accuracy over 5 severities |", "|---|---|",
                      *(f"| {_spoken(name)} | {value:.1%} |" for name, value in card.robustness.hardest), ""]
    return lines


def _calibration_table(calibration: Calibration) -> list[str]:
    reports = {"before scaling": calibration.before,
               **({f"after scaling (T = {calibration.temperature:.2f})": calibration.after} if calibration.after else {})}
    return ["| test split | ECE | MCE | NLL | Brier |", "|---|---|---|---|---|",
            *(f"| {label} | {report.ece:.2%} | {report.mce:.2%} | {report.nll:.4f} | {report.brier:.4f} |"
              for label, report in reports.items()), ""]

"""A run's report card (cnnkit.experiments.report_card): read from runs logged as training logs them
(nothing trained), each sentence's thresholds from both sides, and the hint's thresholds against
`TestReference.rank` itself."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from cnnkit import tracking
from cnnkit.experiments import report_card
from cnnkit.models import corruptions, predict
from cnnkit.stats import calibration as stats_calibration
from cnnkit.tracking import RunSummary, run_schema
from cnnkit.training import Calibration, calibrate
from cheap_runs import evaluated_digits_run, finished_run


def sweep_table(worst: dict[str, float], rest: float = 0.9) -> pd.DataFrame:
    """A sweep's table, every cell at `rest` except the corruptions in `worst`, at their value."""
    return pd.DataFrame([(name, severity, 0.0, "MNIST-C", worst.get(name, rest)) for name in corruptions.CORRUPTIONS
                         for severity in corruptions.SEVERITIES],
                        columns=["corruption", "severity", "parameter", "benchmark", "accuracy"])


def log_calibration_and_sweep(store, run_id: str) -> Calibration:
    """Over-confident calibration with a temperature, and a sweep, logged on the run as training and the
    sweep log them; the calibration."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (600, 10))
    labels = (rng.random(600)[:, None] > softmax(logits, axis=1).cumsum(axis=1)).sum(axis=1)
    found = calibrate(softmax(3 * logits[:300], axis=1), labels[:300], softmax(3 * logits[300:], axis=1), labels[300:])
    logger = tracking.RunLogger(store, run_id)
    logger.log_metrics(found.metrics(), step=1)
    logger.log_json(found.to_json(), run_schema.CALIBRATION)
    logger.flush(wait=True)
    table = sweep_table({"translate": 0.2, "rotate": 0.4, "shear": 0.5})
    store.log_corruption_sweep(run_id, {run_schema.CORRUPTION_CLEAN_ACCURACY: 0.95,
                                        run_schema.CORRUPTION_MEAN_ACCURACY: table["accuracy"].mean(),
                                        run_schema.CORRUPTION_DROP: 0.95 - table["accuracy"].mean(),
                                        run_schema.CORRUPTION_IMAGES: 2000}, table)
    return found


@pytest.fixture()
def store(tmp_path):
    return tracking.RunStore(f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_a_logged_run_with_calibration_and_a_sweep_gets_every_number_and_sentence(store):
    run_id = evaluated_digits_run(store, "swept", wrong=range(9))
    found = log_calibration_and_sweep(store, run_id)

    card = report_card.read_card(store, run_id)

    images = store.run(run_id).test_images
    assert card.accuracy.images == images and card.accuracy.accuracy == pytest.approx((images - 9) / images)
    assert (card.accuracy.low, card.accuracy.high) == pytest.approx(
        wilson_by_hand(images - 9, images), abs=1e-9)
    assert card.calibration.temperature == pytest.approx(found.temperature)
    assert card.calibration.before.ece == pytest.approx(found.before.ece)
    assert [name for name, _ in card.robustness.hardest] == ["translate", "rotate", "shear"]
    assert len(card.robustness.table) == len(corruptions.CORRUPTIONS) * len(corruptions.SEVERITIES)
    parts = {part.title: part for part in card.parts()}
    assert [part.known for part in parts.values()] == [True, True, True, False]
    assert parts["Calibration"].sentence.startswith("Over-confident: ECE ")
    assert f"temperature T = {found.temperature:.2f} brings ECE to {found.after.ece:.1%}" in parts["Calibration"].sentence
    assert parts["Robustness"].sentence.startswith("Fragile: loses ")
    assert "worst: translate (20.0%), rotate (40.0%), shear (50.0%)." in parts["Robustness"].sentence


def wilson_by_hand(right: int, total: int) -> tuple[float, float]:
    """The Wilson score interval written out (Wilson 1927), z the normal's 97.5th percentile."""
    z, share = 1.959963984540054, right / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return centre - half, centre + half


def test_an_old_run_says_what_is_missing_and_how_to_get_it(store):
    run_id = finished_run(store, test_accuracy=0.8)  # no test images, calibration or sweep logged

    parts = {part.title: part for part in report_card.read_card(store, run_id).parts()}

    assert parts["Test accuracy"].sentence.startswith("Test accuracy 80.00%, with no 95 % interval: the run was "
                                                      "logged before runs recorded")
    assert not parts["Calibration"].known and "relaunch it" in parts["Calibration"].sentence
    assert not parts["Robustness"].known
    assert parts["Robustness"].sentence == f"No corruption sweep yet: {report_card.SWEEP_HOW}."
    assert "python -m cnnkit corruptions RUN_ID" in report_card.SWEEP_HOW
    assert parts["Out-of-distribution hint"].sentence.startswith("Not computed: ")


def test_a_running_run_is_told_its_numbers_come_when_it_finishes():
    run = RunSummary("r", "running", "RUNNING", params={}, metrics={}, tags={})
    parts = {part.title: part.sentence for part in report_card.card_of(run, None, None).parts()}
    assert parts["Test accuracy"].startswith("No test accuracy")
    assert parts["Calibration"].startswith("No calibration yet: it is measured on the test split when the run finishes")
    assert parts["Robustness"] == "No corruption sweep: a run is swept once it has finished."


# ---- each sentence's threshold, from both sides -------------------------------------------


def test_an_interval_is_wide_above_one_point_of_half_width_and_narrow_at_or_below():
    wide = report_card.accuracy_of({run_schema.TEST_ACCURACY: 0.9}, 100)  # half-width about 6 points
    narrow = report_card.accuracy_of({run_schema.TEST_ACCURACY: 0.99}, 10_000)  # about 0.2 points
    assert (wide.high - wide.low) / 2 > report_card.WIDE_INTERVAL >= (narrow.high - narrow.low) / 2
    assert report_card.accuracy_sentence(wide).startswith("Wide interval: 90.00% right on 100 test images (95 % "
                                                          "interval 82.56% to 94.48%)")
    assert report_card.accuracy_sentence(narrow).startswith("Narrow interval: 99.00% right on 10,000 test images")


def report(ece: float, confidence: float, accuracy: float) -> stats_calibration.CalibrationReport:
    """A report whose one non-empty bin holds 100 images at `confidence` with `accuracy`."""
    bins = pd.DataFrame({"low": [0.0, 0.9], "high": [0.9, 1.0], "count": [0, 100], "accuracy": [np.nan, accuracy],
                         "confidence": [np.nan, confidence]})
    return stats_calibration.CalibrationReport(bins, ece, ece, 0.1, 0.1)


@pytest.mark.parametrize("ece, confidence, accuracy, start", [
    (0.01, 0.95, 0.94, "Well calibrated: ECE 1.0%"),  # at the threshold
    (0.011, 0.95, 0.939, "Over-confident: ECE 1.1%, its confidence 1.1 points above its accuracy on average"),
    (0.05, 0.90, 0.95, "Under-confident: ECE 5.0%, its confidence 5.0 points below its accuracy on average"),
])
def test_calibration_is_well_at_or_below_one_percent_ece_else_over_or_under_confident(ece, confidence, accuracy, start):
    sentence = report_card.calibration_sentence(Calibration(report(ece, confidence, accuracy)))
    assert sentence == f"{start}; no temperature (the run had no validation split to fit one on)."


def test_the_mean_gap_weighs_each_bin_by_its_images():
    bins = pd.DataFrame({"low": [0.5, 0.9], "high": [0.6, 1.0], "count": [30, 10], "accuracy": [0.4, 1.0],
                         "confidence": [0.55, 0.95]})
    by_hand = (30 * (0.55 - 0.4) + 10 * (0.95 - 1.0)) / 40
    assert report_card.mean_gap(stats_calibration.CalibrationReport(bins, 0, 0, 0, 0)) == pytest.approx(by_hand)


@pytest.mark.parametrize("drop, verdict", [(0.05, "Holds up"), (0.0501, "Fragile")])
def test_robustness_holds_up_up_to_a_five_point_drop(drop, verdict):
    metrics = {run_schema.CORRUPTION_CLEAN_ACCURACY: 0.95, run_schema.CORRUPTION_MEAN_ACCURACY: 0.95 - drop,
               run_schema.CORRUPTION_DROP: drop, run_schema.CORRUPTION_IMAGES: 500}
    found = report_card.robustness_of(metrics, sweep_table({"jpeg_compression": 0.7, "contrast": 0.8}))
    assert report_card.robustness_sentence(found).startswith(f"{verdict}: loses {100 * drop:.1f} points under "
                                                             "corruption (clean 95.0%")
    assert found.hardest[:2] == (("jpeg_compression", pytest.approx(0.7)), ("contrast", pytest.approx(0.8)))
    assert "worst: jpeg compression (70.0%), contrast (80.0%), " in report_card.robustness_sentence(found)


@pytest.mark.parametrize("threshold, start", [(0.9, "Sharp: "), (0.899, "Blunt by confidence: ")])
def test_the_hint_is_sharp_when_the_model_is_sure_of_its_test_images(threshold, start):
    hint = report_card.HintReference(200, 0.99, threshold, 0.8)
    assert report_card.hint_sentence(hint).startswith(start)
    too_few = report_card.HintReference(predict.MIN_REFERENCE_IMAGES - 1, 0.99, threshold, 0.8)
    assert report_card.hint_sentence(too_few).startswith("Only 29 test images: too few")


def test_the_hints_thresholds_are_where_classify_starts_flagging():
    rng = np.random.default_rng(1)
    count = 137
    features = rng.normal(size=(count, 8))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    reference = predict.TestReference(rng.uniform(0.3, 1.0, count), features, rng.uniform(0.2, 0.9, count))

    hint = report_card.hint_reference(reference)

    assert hint.images == count and hint.median_confidence == pytest.approx(np.median(reference.confidences))
    image = features[0]

    def flagged_by_confidence(top: float) -> bool:
        probabilities = np.array([top])  # rank takes the top probability alone
        return reference.rank(probabilities, image).less_sure_than >= predict.UNFAMILIAR_SHARE

    assert flagged_by_confidence(np.nextafter(hint.confidence_threshold, 0))
    assert not flagged_by_confidence(hint.confidence_threshold)
    share = lambda value: np.mean(reference.neighbour_similarity > value)  # noqa: E731  (rank's own test)
    assert share(np.nextafter(hint.similarity_threshold, 0)) >= predict.UNFAMILIAR_SHARE
    assert share(hint.similarity_threshold) < predict.UNFAMILIAR_SHARE


def test_the_markdown_holds_each_sentence_and_the_numbers(store):
    run_id = evaluated_digits_run(store, "swept", wrong=range(9))
    log_calibration_and_sweep(store, run_id)
    card = report_card.read_card(store, run_id, report_card.HintReference(360, 0.99, 0.95, 0.8))

    text = "\n".join(report_card.markdown(card))

    assert text.startswith("## Can this result be trusted?\n")
    for part in card.parts():
        assert f"**{part.title}.** {part.sentence}" in text
    assert f"| after scaling (T = {card.calibration.temperature:.2f}) | {card.calibration.after.ece:.2%} |" in text
    assert "| translate | 20.0% |" in text

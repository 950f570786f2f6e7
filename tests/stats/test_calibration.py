"""Calibration against hand-worked cases, scikit-learn's losses, and a temperature it must recover."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import brier_score_loss, log_loss

from cnnkit.stats import calibration

# Five images, two classes: two at confidence 0.9 (one right), three at 0.7 (two right).
HAND = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.3, 0.7], [0.7, 0.3]])
HAND_TRUTH = np.array([0, 1, 1, 1, 1])


def test_reliability_bins_count_accuracy_and_confidence_by_hand():
    bins = calibration.reliability(HAND, HAND_TRUTH)
    assert len(bins) == 15 and bins["count"].sum() == 5
    filled = bins[bins["count"] > 0]
    # 0.7 lies in (10/15, 11/15], 0.9 in (13/15, 14/15]
    assert filled.index.tolist() == [10, 13]
    assert filled["count"].tolist() == [3, 2]
    assert filled["accuracy"].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert filled["confidence"].tolist() == pytest.approx([0.7, 0.9])
    assert bins["accuracy"].isna().sum() == 13


def test_ece_and_mce_by_hand():
    found = calibration.report(HAND, HAND_TRUTH)
    # ECE = 3/5 · |2/3 − 0.7| + 2/5 · |1/2 − 0.9| = 0.02 + 0.16; MCE = 0.4
    assert found.ece == pytest.approx(0.18)
    assert found.mce == pytest.approx(0.4)


def test_a_bin_holds_its_upper_edge_and_certainty_lands_in_the_last():
    probabilities = np.array([[2 / 3, 1 / 3], [1.0, 0.0], [0.5, 0.5]])
    counts = calibration.reliability(probabilities, np.array([0, 0, 0]))["count"]
    assert counts[9] == 1 and counts[14] == 1 and counts[7] == 1  # (9/15, 10/15], (14/15, 1], (7/15, 8/15]


def test_perfectly_calibrated_predictions_have_ece_near_zero():
    rng = np.random.default_rng(0)
    probabilities = softmax(rng.normal(0, 2, (50_000, 5)), axis=1)
    truth = (rng.random(50_000)[:, None] > probabilities.cumsum(axis=1)).sum(axis=1)  # drawn from the probabilities
    assert calibration.report(probabilities, truth).ece < 0.01


def test_nll_and_brier_are_scikit_learns():
    rng = np.random.default_rng(2)
    probabilities = softmax(rng.normal(0, 2, (500, 4)), axis=1)
    truth = rng.integers(0, 4, 500)
    assert calibration.nll(probabilities, truth) == pytest.approx(log_loss(truth, probabilities, labels=range(4)))
    assert calibration.brier(probabilities, truth) == pytest.approx(
        brier_score_loss(truth, probabilities, labels=range(4)))
    assert calibration.brier(HAND, HAND_TRUTH) == pytest.approx((0.02 + 1.62 + 0.18 + 0.18 + 0.98) / 5)  # by hand


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_temperature_scaling_recovers_the_temperature_the_labels_were_drawn_at(temperature):
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 4, (20_000, 10))
    truth = (rng.random(20_000)[:, None] > softmax(logits / temperature, axis=1).cumsum(axis=1)).sum(axis=1)
    assert calibration.fit_temperature(logits, truth) == pytest.approx(temperature, rel=0.02)
    # from the softmax outputs a run logs, through their logarithms: the same fit
    assert calibration.fit_temperature(calibration.logits_of(softmax(logits, axis=1)), truth) == \
        pytest.approx(calibration.fit_temperature(logits, truth), rel=1e-4)
    before = calibration.report(softmax(logits, axis=1), truth).ece
    after = calibration.report(calibration.scaled(logits, calibration.fit_temperature(logits, truth)), truth).ece
    assert after < 0.02 < before


def test_it_refuses_predictions_that_dont_match_their_labels():
    with pytest.raises(ValueError):
        calibration.report(HAND, HAND_TRUTH[:3])


def test_calibrated_divides_the_log_probabilities_by_the_temperature_and_none_leaves_them():
    # By hand: p = (0.8, 0.2) at T = 2 is (√0.8, √0.2) renormalised; at T = 0.5, (0.64, 0.04) renormalised.
    p = np.array([[0.8, 0.2]])
    assert calibration.calibrated(p, 2.0)[0] == pytest.approx(np.sqrt([0.8, 0.2]) / np.sqrt([0.8, 0.2]).sum())
    assert calibration.calibrated(p, 0.5)[0] == pytest.approx(np.array([0.64, 0.04]) / 0.68)
    assert calibration.calibrated(p, None).tolist() == p.tolist()

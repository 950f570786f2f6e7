"""cnnkit.stats.cartography: the data map's numbers against a hand computation."""

import numpy as np
import pytest

from cnnkit.stats import cartography

# Three epochs (rows) of four examples (columns).
P_LABEL = np.array([[0.9, 0.2, 0.1, 0.5],
                    [0.9, 0.8, 0.2, 0.6],
                    [0.9, 0.5, 0.0, 0.7]], dtype=np.float16)
PREDICTED = np.array([[1, 2, 0, 1],
                      [1, 0, 0, 2],
                      [1, 0, 0, 1]], dtype=np.uint8)
LABELS = np.array([1, 0, 2, 1])
IDS = np.array(["a", "b", "c", "d"])


def test_confidence_variability_and_correctness_match_a_hand_computation():
    mapped = cartography.data_map(P_LABEL, PREDICTED, LABELS, IDS)
    # by hand: means 0.9, 0.5, 0.1, 0.6; squared deviations summed 0, 0.18, 0.02, 0.02, over E = 3 (population)
    assert mapped.confidence == pytest.approx([0.9, 0.5, 0.1, 0.6], abs=1e-3)
    assert mapped.variability == pytest.approx([0.0, (0.18 / 3) ** 0.5, (0.02 / 3) ** 0.5, (0.02 / 3) ** 0.5], abs=1e-3)
    assert mapped.correctness == pytest.approx([1.0, 2 / 3, 0.0, 2 / 3])
    assert mapped.last_predicted.tolist() == [1, 0, 0, 1] and mapped.epochs == 3


def test_regions_follow_the_documented_thresholds():
    mapped = cartography.data_map(P_LABEL, PREDICTED, LABELS, IDS)
    # b: variability 0.245 >= 0.2; a and d: confident (0.9, 0.6 >= 0.5) and stable; c: 0.1, stable
    assert mapped.region.tolist() == [cartography.EASY, cartography.AMBIGUOUS, cartography.HARD, cartography.EASY]
    assert mapped.region_counts() == {cartography.EASY: 2, cartography.AMBIGUOUS: 1, cartography.HARD: 1}


def test_chosen_filters_by_region_and_class():
    mapped = cartography.data_map(P_LABEL, PREDICTED, LABELS, IDS)
    assert mapped.chosen().tolist() == [0, 1, 2, 3]
    assert mapped.chosen(region=cartography.EASY).tolist() == [0, 3]
    assert mapped.chosen(classes=[1]).tolist() == [0, 3]
    assert mapped.chosen(region=cartography.EASY, classes=[0, 2]).tolist() == []

"""Compare's verdict from runs' evaluations: paired where the test images are the same, a reason
where they aren't, each accuracy with its interval."""

import numpy as np
import pytest
from scipy.stats import binomtest
from test_comparison import DIGITS, FASHION, evaluation

from cnnkit.explorer import comparison, verdict
from cnnkit.stats import intervals


def wrong(indices):
    return [(int(i), 0, 1) for i in indices]


A = evaluation(DIGITS, wrong(range(0, 30)), test_images=1_000)  # 30 wrong
B = evaluation(DIGITS, wrong(range(25, 30)), test_images=1_000)  # 5 wrong, all of them also A's
C = evaluation(DIGITS, wrong(range(0, 31)), test_images=1_000)


def verdict_of(evaluations, test_sets):
    return verdict.verdict(evaluations, comparison.comparability(evaluations, test_sets))


def test_correct_answers_are_every_image_but_the_mistakes():
    right = verdict.correct_answers(evaluation(DIGITS, wrong([1, 4]), test_images=6))
    assert right.tolist() == [True, False, True, True, False, True]


def test_two_runs_on_the_same_images_get_the_paired_sentence():
    found = verdict_of({"a": A, "b": B}, {"a": "same", "b": "same"})
    assert (found.pair.only_a, found.pair.only_b) == (0, 25)
    assert found.pair.p_value == pytest.approx(binomtest(0, 25).pvalue)
    assert found.sentence.startswith("b is better than a by 2.50 points (95 % interval ")
    assert found.table is None and found.notes == []
    assert found.accuracies == {"a": intervals.describe(970, 1_000), "b": intervals.describe(995, 1_000)}


def test_two_runs_on_different_images_say_why_no_test_applies():
    other = evaluation(FASHION, wrong(range(40)), test_images=2_000)
    found = verdict_of({"a": A, "f": other}, {"a": "digits", "f": "fashion"})
    assert found.pair is None and found.sentence is None
    assert found.notes == [
        "No paired test: a and f were tested on different images (1,000 and 2,000: another dataset, split or "
        "subset), so their right and wrong answers can't be paired image by image. Compare their intervals "
        "instead; where they overlap, don't conclude."]
    assert set(found.accuracies) == {"a", "f"}
    unknown = verdict_of({"a": A, "b": B}, {"a": "same", "b": None})
    assert unknown.notes[0].startswith("No paired test: b has no record of which test images it saw")


def test_more_runs_get_the_holm_table_over_the_pairs_on_the_same_images_and_a_note_for_the_rest():
    other = evaluation(FASHION, wrong(range(40)), test_images=2_000)
    found = verdict_of({"a": A, "b": B, "c": C, "f": other}, {"a": "s", "b": "s", "c": "s", "f": "t"})
    assert found.pair is None
    assert list(zip(found.table["A"], found.table["B"])) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert found.table["verdict"].tolist() == ["b better", "don't conclude", "b better"]
    assert found.notes == ["f was tested on other images than every other run here (2,000: another dataset, split "
                           "or subset), so no paired test applies to it."]
    apart = verdict_of({"a": A, "b": B, "f": other}, {"a": "s", "b": "u", "f": "t"})
    assert apart.table is None and apart.notes[-1] == "No paired test: no two of these runs were tested on the same images."
    assert len(apart.notes) == 4


def test_a_run_with_no_mistakes_is_all_right():
    assert verdict.correct_answers(evaluation(DIGITS, test_images=4)).tolist() == [True] * 4
    assert np.asarray(verdict.correct_answers(evaluation(DIGITS, test_images=0))).size == 0

"""Which views of several runs are comparable, and what their mistake galleries show."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cnnkit.explorer import comparison

DIGITS = tuple(str(d) for d in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def evaluation(class_names, mistakes=(), test_images=None):
    """A stand-in for tracking.RunEvaluation: `mistakes` as (test index, true, predicted) rows."""
    n = len(class_names)
    confusion = np.zeros((n, n), dtype=np.int64)
    confusion[0, 0] = test_images if test_images is not None else 10 * n
    table = pd.DataFrame(list(mistakes), columns=["index", "true", "predicted"])
    return SimpleNamespace(class_names=list(class_names), confusion=confusion, mistakes=table)


def test_runs_on_different_class_sets_compare_on_curves_and_results_only_and_say_which_runs_have_which_classes():
    runs = {"digits a": evaluation(DIGITS), "digits b": evaluation(DIGITS), "clothes": evaluation(FASHION)}
    comparable = comparison.comparability(runs, {"digits a": "d", "digits b": "d", "clothes": "f"})
    assert not comparable.same_classes and not comparable.aligned
    assert comparable.why_not("curves") is None and comparable.why_not("results") is None
    for view in ("confusion", "difference", "per_class", "mistakes"):
        reason = comparable.why_not(view)
        assert reason.startswith("Not shown: these runs classify different classes")
        assert "digits a and digits b: 0, 1, 2, 3, …, 9 (10 classes)" in reason
        assert "clothes: T-shirt/top, Trouser, Pullover, Dress, …, Ankle boot (10 classes)" in reason
    assert "can't be subtracted" in comparable.why_not("difference")


def test_the_same_classes_in_another_order_do_not_line_up():
    comparable = comparison.comparability({"a": evaluation(("cat", "dog")), "b": evaluation(("dog", "cat"))}, {})
    assert not comparable.same_classes and comparable.why_not("confusion") is not None


def test_the_same_classes_on_different_test_sets_show_side_by_side_but_are_neither_subtracted_nor_lined_up():
    runs = {"digits": evaluation(DIGITS, test_images=359), "mnist": evaluation(DIGITS, test_images=10_000)}
    comparable = comparison.comparability(runs, {"digits": "d", "mnist": "m"})
    assert comparable.same_classes and not comparable.aligned
    for view in ("confusion", "per_class", "mistakes"):
        assert comparable.why_not(view) is None
    assert "these runs saw different test sets (digits: 359, mnist: 10,000 images)" in comparable.why_not("difference")
    assert "don't line up image by image" in comparable.images_note()


def test_a_run_whose_test_images_are_unknown_lines_up_with_none():
    comparable = comparison.comparability({"a": evaluation(DIGITS), "b": evaluation(DIGITS)}, {"a": "d"})
    assert not comparable.same_test_images() and comparable.why_not("difference") is not None


def test_runs_on_the_same_test_set_line_up_everywhere():
    comparable = comparison.comparability({"a": evaluation(DIGITS), "b": evaluation(DIGITS)}, {"a": "d", "b": "d"})
    assert comparable.aligned and all(comparable.why_not(view) is None for view in comparison.VIEWS)
    assert comparable.images_note().startswith("These runs saw the same test set")


def test_a_difference_is_judged_on_its_own_two_runs_and_starts_with_two_that_share_test_images():
    runs = {name: evaluation(DIGITS, test_images=359) for name in ("seed 4", "seed 0", "seed 0, faster")}
    comparable = comparison.comparability(runs, {"seed 4": "four", "seed 0": "zero", "seed 0, faster": "zero"})
    assert not comparable.aligned and comparable.why_not("difference") is not None
    assert comparable.why_not("difference", runs=("seed 0", "seed 0, faster")) is None
    reason = comparable.why_not("difference", runs=("seed 4", "seed 0"))
    assert reason.startswith("No difference matrix: A and B saw different test sets (seed 4: 359, seed 0: 359 images)")
    assert reason.endswith("or pick two runs tested on the same images.")
    assert comparable.difference_pair() == (1, 2)
    assert comparison.comparability(runs, {}).difference_pair() == (0, 1)


def test_a_difference_needs_two_evaluations_and_an_unknown_view_is_a_bug():
    comparable = comparison.comparability({"a": evaluation(DIGITS)}, {"a": "d"})
    assert "needs two runs" in comparable.why_not("difference")
    with pytest.raises(ValueError, match="unknown view"):
        comparable.why_not("gallery")


def test_compare_starts_with_the_newest_run_and_the_newest_before_it_on_the_same_dataset():
    runs = pd.DataFrame({"run_id": ["r4", "r3", "r2", "r1"], "dataset": ["fashion_mnist", "digits", "fashion_mnist", "digits"]})
    assert comparison.default_runs(runs) == ["r4", "r2"]
    assert comparison.default_runs(runs.iloc[1:]) == ["r3", "r1"]
    assert comparison.default_runs(pd.DataFrame({"run_id": ["b", "a"], "dataset": ["csv", "digits"]})) == ["b", "a"]


def test_aligned_galleries_show_the_same_indices_any_run_got_wrong_filtered_by_class_name():
    runs = {"a": evaluation(DIGITS, [(7, 3, 8), (2, 3, 5), (9, 1, 7)]), "b": evaluation(DIGITS, [(4, 3, 8), (7, 3, 8)])}
    assert {run: list(ix) for run, ix in comparison.mistake_indices(runs, aligned=True).items()} == {
        "a": [2, 4, 7, 9], "b": [2, 4, 7, 9]}
    picked = comparison.mistake_indices(runs, aligned=True, true_class="3", predicted_class="8", limit=1)
    assert {run: list(ix) for run, ix in picked.items()} == {"a": [4], "b": [4]}


def test_galleries_on_different_test_sets_show_each_runs_own_filtered_mistakes_in_its_own_class_names():
    runs = {"digits": evaluation(DIGITS, [(5, 3, 8), (1, 2, 7)]), "other": evaluation(("a", "b", "3"), [(0, 2, 0)])}
    picked = comparison.mistake_indices(runs, aligned=False, true_class="3")  # class "3" is index 3 in one, 2 in the other
    assert {run: list(ix) for run, ix in picked.items()} == {"digits": [5], "other": [0]}
    unfiltered = comparison.mistake_indices(runs, aligned=False, limit=1)
    assert list(unfiltered["digits"]) == [5]  # most confident first, as the mistakes table orders them
    assert list(comparison.mistake_indices(runs, aligned=False, true_class="Coat")["digits"]) == []


def test_gallery_captions_use_the_runs_own_class_names_and_mark_right_answers():
    run = evaluation(("Coat", "Shirt", "Bag"), [(1, 0, 1)])
    tiles = comparison.gallery(run, np.array([1, 2]), y_test=np.array([2, 0, 2]))
    assert tiles.captions == ["true: Coat\npred: Shirt", "true: Bag\npred: Bag"]
    assert tiles.correct == [False, True] and list(tiles.indices) == [1, 2]


def test_a_click_on_a_confusion_chart_names_its_cell_by_true_then_predicted_class():
    assert comparison.clicked_cell([{"x": "Coat", "y": "Shirt", "curve_number": 1}]) == ("Shirt", "Coat")
    assert comparison.clicked_cell([{"x": 3, "y": 8}]) == ("8", "3")  # digits' names arrive as numbers
    assert comparison.clicked_cell([]) is None and comparison.clicked_cell(None) is None


def test_a_difference_cell_lists_the_images_only_a_only_b_and_both_put_there():
    y_test = np.array([0, 0, 1, 1, 2, 2, 1])
    # A: 2 and 3 (true 1) said 0, 6 (true 1) said 2; B: 2 said 0, 3 right, 0 (true 0) said 1, 6 said 0.
    a = evaluation(("x", "y", "z"), mistakes=[(2, 1, 0), (3, 1, 0), (6, 1, 2)])
    b = evaluation(("x", "y", "z"), mistakes=[(2, 1, 0), (0, 0, 1), (6, 1, 0)])
    change = comparison.cell_change(a, b, y_test, "y", "x")  # true y, predicted x
    assert change.only_a.tolist() == [3] and change.only_b.tolist() == [6] and change.both.tolist() == [2]
    right = comparison.cell_change(a, b, y_test, "y", "y")  # the diagonal: right in one, both or neither
    assert right.only_a.tolist() == [] and right.only_b.tolist() == [3] and right.both.tolist() == []
    first = comparison.cell_change(a, b, y_test, "x", "x")
    assert first.only_a.tolist() == [0] and first.only_b.tolist() == [] and first.both.tolist() == [1]

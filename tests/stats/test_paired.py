"""The paired comparison of two classifiers: McNemar's exact test against SciPy's binomial test, the
bootstrap interval against a plain index bootstrap, Holm's correction against a hand-worked case."""

import numpy as np
import pytest
from scipy.stats import binomtest

from cnnkit.stats import paired


def answers(total: int, both: int, only_a: int, only_b: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right/wrong per image for A and B with these counts, in a shuffled order."""
    a = np.zeros(total, bool)
    b = np.zeros(total, bool)
    a[:both + only_a] = True
    b[:both] = True
    b[both + only_a:both + only_a + only_b] = True
    order = np.random.default_rng(seed).permutation(total)
    return a[order], b[order]


def test_discordant_counts_the_images_only_one_run_got_right():
    a = np.array([1, 1, 0, 0, 1, 0], bool)
    b = np.array([1, 0, 1, 1, 1, 0], bool)
    assert paired.discordant(a, b) == (1, 2)
    with pytest.raises(ValueError, match="not the same images"):
        paired.discordant(a, b[:5])


@pytest.mark.parametrize(("only_a", "only_b"), [(0, 0), (0, 1), (3, 3), (7, 19), (19, 7), (40, 58), (0, 12), (120, 160)])
def test_mcnemars_exact_p_value_is_scipys_two_sided_binomial_test(only_a, only_b):
    expected = 1.0 if only_a + only_b == 0 else binomtest(only_b, only_a + only_b, 0.5).pvalue
    assert paired.mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-9)


def test_the_bootstrap_interval_is_a_plain_index_bootstraps():
    a, b = answers(2_000, 1_800, 60, 90)
    rng = np.random.default_rng(7)
    draws = rng.integers(0, a.size, (4_000, a.size))
    plain = np.percentile(b[draws].mean(axis=1) - a[draws].mean(axis=1), [2.5, 97.5])
    low, high = paired.bootstrap_interval(60, 90, 2_000, resamples=4_000)
    assert (low, high) == pytest.approx(tuple(plain), abs=0.002)
    assert low < 30 / 2_000 < high


def test_the_bootstrap_is_seeded():
    assert paired.bootstrap_interval(60, 90, 2_000) == paired.bootstrap_interval(60, 90, 2_000)
    assert paired.bootstrap_interval(60, 90, 2_000, seed=1) != paired.bootstrap_interval(60, 90, 2_000)


def test_a_clear_difference_names_the_better_run_first_with_its_interval_and_chance():
    a, b = answers(10_000, 9_800, 20, 62)
    test = paired.paired_test(a, b, "small net", "big net")
    assert (test.total, test.a_right, test.b_right, test.only_a, test.only_b) == (10_000, 9_820, 9_862, 20, 62)
    assert test.significant and test.difference == pytest.approx(0.0042)
    p = binomtest(20, 82, 0.5).pvalue
    assert test.sentence() == (
        f"big net is better than small net by 0.42 points (95 % interval {100 * test.low:.2f} to {100 * test.high:.2f}); "
        f"a difference this large would arise by chance {paired.chance(p)}.")
    assert 0 < test.low < 0.0042 < test.high
    counts = test.counts()
    assert counts.to_numpy().tolist() == [[9_800, 20], [62, 118]]  # built as 9,800 both right, 20 and 62 alone
    assert (counts.index.tolist(), counts.columns.tolist()) == (["small net right", "small net wrong"],
                                                                ["big net right", "big net wrong"])
    swapped = paired.paired_test(b, a, "big net", "small net")
    assert swapped.sentence() == test.sentence()  # the interval turned round with the runs


def test_a_small_difference_says_dont_conclude():
    test = paired.paired_test(*answers(10_000, 9_900, 10, 18))
    assert not test.significant
    assert test.sentence().startswith("B is ahead of A by 0.08 points (95 % interval ")
    assert test.sentence().endswith("but a difference this large would arise by chance about 1 time in 5: "
                                    "within what chance gives, don't conclude.")
    assert paired.paired_test(*answers(100, 90, 3, 3)).sentence() == (
        "A and B got the same 93 of 100 test images right (they disagree on 6): within what chance gives, "
        "don't conclude.")


@pytest.mark.parametrize(("p_value", "words"), [(0.001, "about 1 time in 1,000"), (0.0123, "about 1 time in 81"),
                                                (0.00042, "about 1 time in 2,400"), (0.3, "about 1 time in 3"),
                                                (0.6, "more than half the time"),
                                                (1e-9, "less than 1 time in 10,000")])
def test_chance_in_words(p_value, words):
    assert paired.chance(p_value) == words


def test_holms_adjusted_p_values_are_the_hand_worked_ones():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> kept at 0.06 (step-down)
    assert paired.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert paired.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_the_pairwise_table_decides_after_holms_correction():
    a, b = answers(1_000, 900, 10, 25)  # p ≈ 0.017 alone
    tests = [paired.paired_test(a, b, "A", "B"), paired.paired_test(a, a, "A", "C"),
             paired.paired_test(b, a, "B", "D")]
    table = paired.pairwise_table(tests)
    assert list(table.columns) == list(paired.PAIRWISE_COLUMNS)
    assert tests[0].significant  # on its own
    assert table["p (Holm)"].tolist() == pytest.approx([3 * tests[0].p_value, 1.0, 3 * tests[0].p_value])
    assert table["verdict"].tolist() == ["don't conclude"] * 3  # 0.052 after the correction
    two = paired.pairwise_table(tests[:1] + [paired.paired_test(*answers(1_000, 800, 5, 60), "E", "F")])
    assert two["verdict"].tolist() == ["B better", "F better"]
    assert two.loc[0, "B − A (points)"] == pytest.approx(1.5)

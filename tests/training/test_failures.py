"""Why a run failed, in the one line its note and the Train page show (`training.failures`)."""

import math

import pytest

from cnnkit.errors import InputError
from cnnkit.full_disk import DiskFull
from cnnkit.training.failures import LossDiverged, failure_message


@pytest.mark.parametrize("loss, words", [(math.nan, "NaN"), (math.inf, "infinite"), (-math.inf, "infinite")])
def test_a_diverged_loss_says_what_it_became_where_and_what_to_do(loss, words):
    assert str(LossDiverged(3, 17, loss)) == (f"loss became {words} at epoch 3, batch 17 — lower the learning rate "
                                             "(or use gradient clipping)")


def test_a_diverged_loss_and_an_input_error_are_told_in_their_own_words():
    assert failure_message(LossDiverged(1, 2, math.nan), "training").startswith("loss became NaN at epoch 1, batch 2")
    assert failure_message(InputError("Batch size: must be at least 1."), "loading data") == (
        "Batch size: must be at least 1.")


def test_a_full_disk_names_its_place_and_what_the_run_was_doing():
    try:
        raise RuntimeError("the store could not write") from DiskFull("/data/runs")
    except RuntimeError as error:
        wrapped = error
    assert failure_message(wrapped, "saving") == (
        "no space left on device in /data/runs while saving the run's results and model — "
        "free some disk space, then resume the run or train again")
    assert failure_message(OSError(28, "No space left on device"), "evaluating").startswith(
        "no space left on device while evaluating — ")  # no place named; an unlisted phase is said as it is


def test_any_other_error_is_its_type_and_message():
    assert failure_message(ValueError("shapes differ"), "training") == "ValueError: shapes differ"

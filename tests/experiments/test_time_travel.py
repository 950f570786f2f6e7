"""A run rewound to a snapshot epoch: its evaluation, and the test images an epoch fixed or broke."""

import numpy as np

from cnnkit.experiments.time_travel import evaluation_at_epoch, final_snapshot_epoch, fixed_and_broken

Y = np.array([0, 1, 2, 1])


def probabilities(predicted, confidence=0.8):
    rows = np.full((len(predicted), 3), (1 - confidence) / 2)
    rows[np.arange(len(predicted)), predicted] = confidence
    return rows


def test_fixed_and_broken_between_two_epochs():
    earlier = probabilities([0, 2, 2, 0])  # right: 0 and 2
    later = probabilities([1, 1, 2, 1])  # right: 1, 2 and 3
    later[3] = [0.05, 0.9, 0.05]
    changes = fixed_and_broken(Y, earlier, later)
    assert changes.fixed.tolist() == [3, 1]  # the more confident fix first
    assert changes.broken.tolist() == [0]
    assert (changes.right_before, changes.right_after) == (2, 3)


def test_the_evaluation_at_an_epoch_has_the_shape_of_a_finished_runs():
    images = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2, 1)
    evaluation = evaluation_at_epoch(probabilities([0, 2, 2, 0]), Y, images, ["a", "b", "c"])
    assert evaluation.confusion.tolist() == [[1, 0, 0], [1, 0, 1], [0, 0, 1]]
    assert evaluation.mistakes["index"].tolist() == [1, 3]
    assert sorted(evaluation.mistake_images) == [1, 3]
    np.testing.assert_array_equal(evaluation.mistake_images[3], images[3])
    assert evaluation.per_class["class"].tolist() == ["a", "b", "c"]


def test_the_last_snapshot_is_the_finished_run_unless_early_stopping_put_the_best_weights_back():
    assert final_snapshot_epoch({"early_stopping": "0"}, {"epochs_trained": 2.0}) == 2
    assert final_snapshot_epoch({}, {"epochs_trained": 3.0}) == 3  # a run from before the setting
    # restore_best_weights: the finished model may be an earlier epoch's, so the last snapshot stays a stop of its own
    assert final_snapshot_epoch({"early_stopping": "2"}, {"epochs_trained": 5.0}) is None
    # EMA: a snapshot holds the weights trained, the finished model their average (swapped in at fit's end)
    assert final_snapshot_epoch({"early_stopping": "0", "ema_momentum": "0.99"}, {"epochs_trained": 5.0}) is None
    assert final_snapshot_epoch({"early_stopping": "0"}, {}) is None  # a run still training, or one that failed

"""BatchLoss: each batch's own loss, recovered from the running mean Keras reports."""

import pytest

from cnnkit.training.callbacks.batch_loss import BatchLoss


def test_batch_loss_is_recovered_from_the_running_mean():
    tracker = BatchLoss(n_samples=10, batch_size=4)  # batches of 4, 4, 2
    losses = [1.0, 3.0, 6.0]
    running, seen, total = [], 0, 0.0
    for size, loss in zip([4, 4, 2], losses):
        seen, total = seen + size, total + size * loss
        running.append(total / seen)
    assert [tracker.update(i, m) for i, m in enumerate(running)] == pytest.approx(losses)

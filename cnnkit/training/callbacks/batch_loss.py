from __future__ import annotations


class BatchLoss:
    """Recovers each batch's own loss from Keras's running mean over the epoch.

    Keras reports the sample-weighted mean loss so far in the epoch; the batch's loss is
    the change in the running sum divided by the batch's size.
    """

    def __init__(self, n_samples: int, batch_size: int):
        self.n_samples, self.batch_size = n_samples, batch_size
        self.reset()

    def reset(self) -> None:
        self.seen, self.total = 0, 0.0

    def update(self, batch: int, running_mean: float) -> float:
        seen = min((batch + 1) * self.batch_size, self.n_samples)
        total = running_mean * seen
        loss = (total - self.total) / max(1, seen - self.seen)
        self.seen, self.total = seen, total
        return loss

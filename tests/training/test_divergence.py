"""A run whose loss turns NaN stops there and ends FAILED, saying where and what to change."""

import math
import re

import keras
import numpy as np
import pytest

from cnnkit.tracking.store_opening import make_client
from cnnkit.training import checkpoint
from cnnkit.config import TrainConfig
from cnnkit.training import LossDiverged, train
from cnnkit.training.callbacks import RunMonitor

# Plain SGD with heavy momentum and no batch norm at a rate of 10 overflows within two epochs on digits with
# TensorFlow (on JAX the same run saturates at a finite loss; the monitor's own test below runs on both).
DIVERGING = dict(dataset="digits", arch="kaggle_mnist_cnn", epochs=20, batch_size=64, seed=7, optimizer="sgd",
                 momentum=0.99, batch_norm=False, learning_rate=10.0)


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() == "jax", reason="this run saturates at a finite loss on JAX")
def test_a_nan_loss_ends_the_run_failed_at_that_batch_with_a_hint(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = train(TrainConfig(**DIVERGING), tracking_uri=store)

    assert result.status == "FAILED"
    found = re.fullmatch(r"loss became NaN at epoch (\d+), batch (\d+) — lower the learning rate "
                         r"\(or use gradient clipping\)", result.error)
    assert found, result.error
    epoch = int(found[1])
    client = make_client(store)
    run = client.get_run(result.run_id)
    assert run.info.status == "FAILED" and run.data.tags["cnnkit.error"] == result.error
    assert epoch < DIVERGING["epochs"]  # stopped, not trained on to the end
    epochs = sorted(m.step for m in client.get_metric_history(result.run_id, "loss"))
    assert epochs == list(range(1, epoch))  # the epochs before it, and not the one that diverged
    batches = sorted(client.get_metric_history(result.run_id, "batch_loss"), key=lambda m: m.step)
    assert [m.step for m in batches] == list(range(1, len(batches) + 1))
    assert all(math.isfinite(m.value) for m in batches)  # the NaN itself is never logged
    assert "test_accuracy" not in run.data.metrics  # no evaluation of a broken model
    assert not checkpoint.folder(store, result.run_id).exists()  # nothing to resume: it would diverge again


class RecordingLogger:
    def __init__(self):
        self.metrics: list[tuple[int, dict]] = []

    def log_metrics(self, values, step):
        self.metrics.append((step, values))

    def flush(self):
        pass


def test_the_monitor_stops_fit_at_the_first_nan_batch_loss_it_reads():
    """Targets that are NaN from the third batch of 8 on make that batch's loss NaN on every backend."""
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[np.zeros(64, int)]
    y[16:] = np.nan
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    logger = RecordingLogger()
    monitor = RunMonitor(logger, TrainConfig(dataset="digits", batch_size=8, epochs=3), 64, 8, lambda progress: None,
                         report_seconds=0)
    with pytest.raises(LossDiverged, match=r"^loss became NaN at epoch 1, batch 3 — lower the learning rate"):
        try:
            model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[monitor])
        finally:
            monitor.close()
    assert [step for step, values in logger.metrics] == [1, 2]  # the batches before it; no NaN logged

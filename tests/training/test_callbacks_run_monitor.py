"""RunMonitor: batches logged and reported in order, throttled reports, nothing after close.

Backend-neutral: the suite also runs this file with KERAS_BACKEND=jax (tests/test_jax_backend.py).
"""

import pytest

from cnnkit.config import TrainConfig
from cnnkit.training.callbacks import RunMonitor
from tiny_models import tiny_model

TINY = dict(dataset="digits", arch="kaggle_mnist_cnn", epochs=1, batch_size=64, seed=3)


class RecordingLogger:
    def __init__(self):
        self.metrics: list[tuple[int, dict]] = []

    def log_metrics(self, values, step):
        self.metrics.append((step, dict(values)))

    def flush(self):
        pass


def running_means(losses, batch_size, n_samples):
    """Keras' running mean loss after each batch of an epoch."""
    means, seen, total = [], 0, 0.0
    for loss in losses:
        size = min(batch_size, n_samples - seen)
        seen, total = seen + size, total + size * loss
        means.append(total / seen)
    return means


def test_batches_arriving_out_of_order_are_logged_and_reported_in_order():
    cfg = TrainConfig(**{**TINY, "epochs": 1, "batch_size": 4})
    logger, reports = RecordingLogger(), []
    monitor = RunMonitor(logger, cfg, n_train=12, steps_per_epoch=3, on_progress=reports.append, report_seconds=0)
    monitor.set_model(tiny_model())
    means = running_means([1.0, 3.0, 6.0], batch_size=4, n_samples=12)
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    monitor.on_train_batch_end(1, {"loss": means[1]})  # batch 1 arrives first: nothing can be reported yet
    assert logger.metrics == [] and reports == []
    monitor.on_train_batch_end(0, {"loss": means[0]})
    monitor.on_train_batch_end(2, {"loss": means[2]})
    assert [(step, values["batch_loss"]) for step, values in logger.metrics] == [
        (1, pytest.approx(1.0)), (2, pytest.approx(3.0)), (3, pytest.approx(6.0))]
    points = [point for report in reports for point in report.batch_points]
    assert [step for step, _, _ in points] == [1, 2, 3]
    assert all(lr == pytest.approx(0.01) for _, _, lr in points)  # the optimizer's rate, read as the epoch began


def test_reports_are_throttled_but_no_batch_is_lost():
    cfg = TrainConfig(**{**TINY, "epochs": 1, "batch_size": 1})
    logger, reports = RecordingLogger(), []
    monitor = RunMonitor(logger, cfg, n_train=500, steps_per_epoch=500, on_progress=reports.append, report_seconds=60)
    monitor.set_model(tiny_model())
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    for batch in range(500):
        monitor.on_train_batch_end(batch, {"loss": 1.0})
    assert len(reports) == 1  # the first batch reports at once, then nothing for 60 s
    monitor.on_epoch_end(0, {"loss": 1.0})
    batch_reports = [report for report in reports if report.event == "batch"]
    assert len(batch_reports) == 2 and reports[-1].event == "epoch"
    assert [point[0] for report in batch_reports for point in report.batch_points] == list(range(1, 501))
    assert len([step for step, values in logger.metrics if "batch_loss" in values]) == 500


def test_batches_arriving_after_the_monitor_closed_are_ignored():
    cfg = TrainConfig(**{**TINY, "epochs": 1, "batch_size": 4})
    logger = RecordingLogger()
    monitor = RunMonitor(logger, cfg, n_train=12, steps_per_epoch=3, on_progress=lambda p: None, report_seconds=0)
    monitor.set_model(tiny_model())
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    monitor.on_train_batch_end(0, {"loss": 1.0})
    monitor.close()
    monitor.on_train_batch_end(1, {"loss": 1.0})  # a callback thread finishing after fit was cancelled
    assert [step for step, _ in logger.metrics] == [1]


def run_epochs(monitor, val_accuracies, first_epoch=0):
    """Epochs without batches, each ending with `val_accuracies`' next value."""
    monitor.on_train_begin()
    for epoch, accuracy in enumerate(val_accuracies, start=first_epoch):
        monitor.on_epoch_begin(epoch)
        monitor.on_epoch_end(epoch, {"loss": 1.0, "val_accuracy": accuracy})


def epoch_logs(logger):
    return {step: values for step, values in logger.metrics if "epoch_seconds" in values}


def test_the_clock_sums_the_epochs_and_each_threshold_is_timed_once_when_first_reached():
    cfg = TrainConfig(**{**TINY, "epochs": 3, "batch_size": 4})
    logger = RecordingLogger()
    monitor = RunMonitor(logger, cfg, n_train=12, steps_per_epoch=3, on_progress=lambda p: None)
    monitor.set_model(tiny_model())
    float32_090 = 0.8999999761581421  # how Keras reports 90 right of 100
    run_epochs(monitor, [0.5, float32_090, 0.99])
    logs = epoch_logs(logger)
    seconds = [logs[epoch]["epoch_seconds"] for epoch in (1, 2, 3)]
    assert [logs[epoch]["elapsed_s"] for epoch in (1, 2, 3)] == pytest.approx(
        [seconds[0], seconds[0] + seconds[1], sum(seconds)])
    timed = {epoch: {key: value for key, value in logs[epoch].items() if key.startswith("time_to_")} for epoch in logs}
    assert timed == {1: {}, 2: {"time_to_val_acc_90": logs[2]["elapsed_s"]},
                     3: {key: logs[3]["elapsed_s"] for key in ("time_to_val_acc_95", "time_to_val_acc_98",
                                                               "time_to_val_acc_99")}}


def test_a_resumed_run_continues_its_checkpoints_clock_and_times_no_threshold_twice():
    cfg = TrainConfig(**{**TINY, "epochs": 3, "batch_size": 4})
    logger = RecordingLogger()
    monitor = RunMonitor(logger, cfg, n_train=12, steps_per_epoch=3, on_progress=lambda p: None, initial_epoch=2)
    monitor.set_model(tiny_model())
    monitor.latest, monitor.reached = {"loss": 1.0, "elapsed_s": 100.0}, {"time_to_val_acc_90": 60.0}  # as restored
    run_epochs(monitor, [0.96], first_epoch=2)
    logged = epoch_logs(logger)[3]
    assert logged["elapsed_s"] == pytest.approx(100.0 + logged["epoch_seconds"])
    assert {key for key in logged if key.startswith("time_to_")} == {"time_to_val_acc_95"}


def test_a_run_resumed_from_a_checkpoint_without_a_clock_logs_no_times():
    cfg = TrainConfig(**{**TINY, "epochs": 3, "batch_size": 4})
    logger = RecordingLogger()
    monitor = RunMonitor(logger, cfg, n_train=12, steps_per_epoch=3, on_progress=lambda p: None, initial_epoch=2)
    monitor.set_model(tiny_model())
    monitor.latest = {"loss": 1.0, "epoch_seconds": 2.0}  # saved before elapsed_s was logged
    run_epochs(monitor, [0.99], first_epoch=2)
    assert not {key for key in epoch_logs(logger)[3] if key.startswith(("elapsed", "time_to_"))}

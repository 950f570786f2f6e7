"""Training without waiting on the device, mixed precision, weight averaging, test-time flip and
several steps per execution: unit checks of the monitor and real tiny digits runs.

Backend-neutral: the suite also runs this file with KERAS_BACKEND=jax (tests/test_jax_backend.py).
"""

import threading

import keras
import numpy as np
import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.config import TrainConfig
from cnnkit.training import train
from cnnkit.training.callbacks import RunMonitor
from cnnkit.training.callbacks.rate_plan import RatePlan
from cnnkit.training.prediction import predict_test_images
from cnnkit.training.tricks import schedule_preview

TINY = dict(dataset="digits", arch="kaggle_mnist_cnn", epochs=2, batch_size=64, seed=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"


class RecordingLogger:
    def __init__(self):
        self.metrics: list[tuple[int, dict]] = []

    def log_metrics(self, values, step):
        self.metrics.append((step, dict(values)))

    def flush(self):
        pass


def tiny_model(learning_rate=0.01) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(learning_rate), "categorical_crossentropy")
    return model


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


def test_the_rate_plan_tabulates_per_step_schedules_and_reads_other_rates_once_an_epoch():
    cyclic = TrainConfig(schedule="cyclic", max_lr=0.01, cycle_epochs=1.0, epochs=2)
    plan = RatePlan(cyclic, steps_per_epoch=10)
    assert [plan.at(step) for step in range(20)] == pytest.approx(schedule_preview(cyclic, 10).tolist())
    assert plan.at(10_000) == pytest.approx(plan.at(19))  # steps past the plan keep its last rate
    plateau = RatePlan(TrainConfig(schedule="plateau", learning_rate=0.01), steps_per_epoch=10)
    model = tiny_model(learning_rate=0.01)
    plateau.start_epoch(model)
    model.optimizer.learning_rate.assign(0.003)  # what ReduceLROnPlateau does between epochs
    assert plateau.at(5) == pytest.approx(0.01)
    plateau.start_epoch(model)
    assert plateau.at(15) == pytest.approx(0.003)


def test_test_time_flip_averages_each_image_with_its_mirror_image():
    inputs = keras.Input((2, 3, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    images = np.random.default_rng(0).uniform(0, 1, (5, 2, 3, 1)).astype("float32")
    plain = model.predict(images, verbose=0)
    mirrored = model.predict(images[:, :, ::-1], verbose=0)
    cancel = threading.Event()
    np.testing.assert_allclose(predict_test_images(model, images, TrainConfig(), cancel), plain, atol=1e-6)
    np.testing.assert_allclose(predict_test_images(model, images, TrainConfig(test_time_flip=True), cancel),
                               (plain + mirrored) / 2, atol=1e-6)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_a_mixed_precision_run_trains_logs_its_precision_and_reloads_with_a_float32_output(store, precision):
    result = train(TrainConfig(**TINY, precision=precision), tracking_uri=store)
    assert result.status == "FINISHED", result.error
    assert result.metrics["test_accuracy"] > 0.3  # learned something in 2 epochs (chance is 0.1)
    client = make_client(store)
    run_store = tracking.RunStore(store)
    run = client.get_run(result.run_id)
    assert run.data.params["precision"] == precision and run.data.tags["cnnkit.device"]
    model = run_store.load_model(result.run_id)
    assert model.get_layer("conv1").dtype_policy.name == precision
    assert model.predict(np.zeros((1, 8, 8, 1)), verbose=0).dtype == np.float32


def test_weight_averaging_finishes_with_the_averaged_weights_and_the_model_saves(store):
    # 0.5 lets the average follow the weights closely enough to classify after two short epochs.
    result = train(TrainConfig(**TINY, ema_momentum=0.5, test_time_flip=True), tracking_uri=store)
    assert result.status == "FINISHED", result.error  # on JAX, saving after EMA once failed ("Array has been deleted")
    model = tracking.RunStore(store).load_model(result.run_id)
    assert model.count_params() > 0 and result.metrics["test_accuracy"] > 0.3


def test_several_steps_per_execution_log_one_batch_loss_per_execution(store):
    cfg = TrainConfig(**TINY, steps_per_execution=4, schedule="one_cycle", max_lr=0.01)
    result = train(cfg, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    client = make_client(store)
    run_store = tracking.RunStore(store)
    n_train = run_store.load_json_artifact(result.run_id, "dataset/summary.json")["splits"]["train"]
    steps_per_epoch = -(-n_train // cfg.batch_size)
    steps = sorted(m.step for m in client.get_metric_history(result.run_id, "batch_loss"))
    per_epoch = list(range(4, steps_per_epoch, 4)) + [steps_per_epoch]
    assert steps == per_epoch + [steps_per_epoch + step for step in per_epoch]
    rates = {m.step: m.value for m in client.get_metric_history(result.run_id, "batch_lr")}
    table = schedule_preview(cfg, steps_per_epoch)
    assert all(rates[step] == pytest.approx(table[step - 1]) for step in steps)

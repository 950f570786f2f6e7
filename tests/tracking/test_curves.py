"""Runs' curves (cnnkit.tracking.curves): a run's epochs and batches."""

import pandas as pd

from cnnkit.config import TrainConfig
from cnnkit.tracking import threshold_times, thresholds_reached, with_elapsed


def test_run_history_has_epoch_metrics_and_batches_with_the_rate_carried_forward(run_store):
    logger = run_store.start_run(TrainConfig())
    for epoch in (1, 2):
        logger.log_metrics({"loss": 1 / epoch, "val_accuracy": 0.4 * epoch, "lr": 0.01}, step=epoch)
    for step, loss in enumerate([2.0, 1.5, 1.2, 1.0], start=1):
        logger.log_metrics({"batch_loss": loss, **({"batch_lr": 0.01 * step} if step in (1, 3) else {})}, step=step)
    logger.finish("FINISHED")

    epochs, batches = run_store.run_history(logger.run_id)

    assert list(epochs.columns) == ["epoch", "loss", "val_accuracy", "lr"]  # only what was logged, in order
    assert epochs.to_dict("list") == {"epoch": [1, 2], "loss": [1.0, 0.5], "val_accuracy": [0.4, 0.8], "lr": [0.01, 0.01]}
    assert batches.to_dict("list") == {"step": [1, 2, 3, 4], "batch_loss": [2.0, 1.5, 1.2, 1.0],
                                       "batch_lr": [0.01, 0.01, 0.03, 0.03]}


def test_run_history_of_a_run_without_metrics_is_empty(run_store):
    epochs, batches = run_store.run_history(run_store.start_run(TrainConfig()).run_id)
    assert epochs.empty and list(epochs.columns) == ["epoch"]
    assert batches.empty and list(batches.columns) == ["step", "batch_loss", "batch_lr"]


def test_a_run_logged_before_elapsed_s_gets_the_running_sum_of_its_epoch_seconds(run_store):
    logger = run_store.start_run(TrainConfig())
    for epoch, seconds in enumerate([3.0, 2.0, 4.0], start=1):
        logger.log_metrics({"loss": 1 / epoch, "epoch_seconds": seconds}, step=epoch)
    logger.finish("FINISHED")

    assert run_store.epoch_history(logger.run_id)["elapsed_s"].tolist() == [3.0, 5.0, 9.0]
    long = run_store.histories([logger.run_id], keys=("loss", "elapsed_s"))
    assert list(long.columns) == ["run_id", "run", "epoch", "loss", "elapsed_s"]
    assert long["elapsed_s"].tolist() == [3.0, 5.0, 9.0]


def test_a_logged_clock_is_kept_and_a_fork_without_one_gets_none():
    logged = pd.DataFrame({"epoch": [1, 2], "epoch_seconds": [3.0, 2.0], "elapsed_s": [10.0, 12.0]})
    assert with_elapsed(logged)["elapsed_s"].tolist() == [10.0, 12.0]  # e.g. a fork continuing its parent's clock
    fork = pd.DataFrame({"epoch": [3, 4], "epoch_seconds": [3.0, 2.0]})
    assert "elapsed_s" not in with_elapsed(fork)
    gap = pd.DataFrame({"epoch": [1, 2], "epoch_seconds": [3.0, None]})
    assert "elapsed_s" not in with_elapsed(gap)


def test_threshold_times_are_the_clock_at_the_first_epoch_reaching_each_threshold():
    epochs = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_accuracy": [0.5, 0.8999999761581421, 0.97, 0.93],
                           "elapsed_s": [10.0, 20.0, 30.0, 40.0]})
    assert threshold_times(epochs) == {"time_to_val_acc_90": 20.0, "time_to_val_acc_95": 30.0}
    assert threshold_times(epochs.drop(columns=["elapsed_s"])) == {}
    assert thresholds_reached(0.98) == ("time_to_val_acc_90", "time_to_val_acc_95", "time_to_val_acc_98")


def test_system_history_is_each_runs_cpu_memory_and_gpu_use_against_the_seconds_since_it_started(run_store, client):
    from mlflow.entities import Metric

    with_gpu, without_gpu, old = (run_store.start_run(TrainConfig(), run_name=name) for name in ("gpu", "cpu", "old"))
    for logger, values in ((with_gpu, {"system/cpu_utilization_percentage": 50.0,
                                       "system/system_memory_usage_megabytes": 3000.0,
                                       "system/gpu_0_utilization_percentage": 90.0,
                                       "system/gpu_1_utilization_percentage": 10.0,
                                       "system/disk_usage_megabytes": 1.0}),  # not drawn
                           (without_gpu, {"system/cpu_utilization_percentage": 25.0})):
        start = client.get_run(logger.run_id).info.start_time
        client.log_batch(logger.run_id, metrics=[Metric(key, value + step, start + 1500 + 10_000 * step, step)
                                                 for key, value in values.items() for step in (0, 1)])
    old.log_metrics({"loss": 1.0}, step=1)
    old.flush(wait=True)

    history = run_store.system_history([with_gpu.run_id, without_gpu.run_id, old.run_id])

    assert list(history.columns) == ["run_id", "run", "metric", "seconds", "value"]
    assert history.drop(columns="run_id").values.tolist() == [
        ["gpu", "system/cpu_utilization_percentage", 1.5, 50.0], ["gpu", "system/cpu_utilization_percentage", 11.5, 51.0],
        ["gpu", "system/system_memory_usage_megabytes", 1.5, 3000.0],
        ["gpu", "system/system_memory_usage_megabytes", 11.5, 3001.0],
        ["gpu", "system/gpu_0_utilization_percentage", 1.5, 90.0], ["gpu", "system/gpu_0_utilization_percentage", 11.5, 91.0],
        ["gpu", "system/gpu_1_utilization_percentage", 1.5, 10.0], ["gpu", "system/gpu_1_utilization_percentage", 11.5, 11.0],
        ["cpu", "system/cpu_utilization_percentage", 1.5, 25.0], ["cpu", "system/cpu_utilization_percentage", 11.5, 26.0]]
    assert run_store.system_history([old.run_id]).empty

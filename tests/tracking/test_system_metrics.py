"""cnnkit.tracking.system_metrics: a run samples the machine with MLflow's monitors into its own store,
under MLflow's `system/...` names, at least once however short it is; never holding the run up nor
ending it when the store fails; off with CNNKIT_SYSTEM_METRICS_SECONDS=0. Also through `train`."""

import logging
import threading

import psutil
import pytest
from mlflow.system_metrics.metrics.base_metrics_monitor import BaseMetricsMonitor

import cnnkit.tracking.system_metrics as system_metrics
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs.ray_runner import worker_environment
from cnnkit.tracking import StoreUnavailable
from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking.system_metrics import SystemMetrics, sampling_seconds
from run_processes import wait_for

CPU, MEMORY = "system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"
MLFLOWS_METRICS = {CPU, MEMORY, "system/system_memory_usage_percentage", "system/disk_usage_percentage",
                   "system/disk_usage_megabytes", "system/disk_available_megabytes", "system/network_receive_megabytes",
                   "system/network_transmit_megabytes"}  # what MLflow's SystemMetricsMonitor logs without a GPU


class NoGpu:
    """MLflow's GPU monitor where NVML finds no driver (as on this machine; a GPU machine would find one)."""

    def __init__(self):
        raise RuntimeError("Failed to initialize NVML, skip logging GPU metrics: Driver Not Loaded")


class OneGpu(BaseMetricsMonitor):
    """MLflow's GPU monitor on a machine with one GPU, 37 % busy."""

    def collect_metrics(self):
        self._metrics["gpu_0_utilization_percentage"].append(37.0)
        self._metrics["gpu_0_memory_usage_megabytes"].append(1500.0)

    def aggregate_metrics(self):
        return {key: sum(values) / len(values) for key, values in self._metrics.items()}


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch):
    monkeypatch.setattr(system_metrics, "GPUMonitor", NoGpu)


def history(client, run_id, key=CPU):
    return [(metric.step, metric.value) for metric in client.get_metric_history(run_id, key)]


def system_keys(client, run_id) -> set[str]:
    return {key for key in client.get_run(run_id).data.metrics if key.startswith("system/")}


def test_a_run_that_ends_at_once_holds_one_sample_of_mlflows_system_metrics_in_its_own_store(run_store, client,
                                                                                             monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # MLflow's global store: nothing goes there
    logger = run_store.start_run(TrainConfig())
    with SystemMetrics(logger, seconds=60):
        pass
    logger.finish("FINISHED")

    assert system_keys(client, logger.run_id) == MLFLOWS_METRICS
    [(step, cpu)] = history(client, logger.run_id)
    [(_, memory)] = history(client, logger.run_id, MEMORY)
    assert step == 0 and 0 <= cpu <= 100
    assert 0 < memory <= psutil.virtual_memory().total / 1e6


def test_samples_come_every_interval_and_once_more_at_the_end_with_consecutive_steps(run_store, client):
    logger = run_store.start_run(TrainConfig())
    with SystemMetrics(logger, seconds=1):
        wait_for(lambda: history(client, logger.run_id), timeout=60, what="a sample in the store while the run trains")
    logger.finish("FINISHED")
    steps = [step for step, _ in history(client, logger.run_id)]
    assert len(steps) >= 2 and steps == list(range(len(steps)))


def test_a_resumed_run_samples_after_the_steps_it_holds(run_store, client):
    logger = run_store.start_run(TrainConfig())
    for step in range(3):
        logger.log_metrics({CPU: 5.0}, step=step)
    logger.flush(wait=True)
    with SystemMetrics(logger, seconds=60):
        pass
    logger.finish("FINISHED")
    assert [step for step, _ in history(client, logger.run_id)] == [0, 1, 2, 3]


def test_each_run_training_at_once_gets_its_own_samples(run_store, client):
    loggers = [run_store.start_run(TrainConfig()) for _ in range(2)]
    with SystemMetrics(loggers[0], seconds=60), SystemMetrics(loggers[1], seconds=60):
        pass
    for logger in loggers:
        logger.finish("FINISHED")
        assert [step for step, _ in history(client, logger.run_id)] == [0]


def test_a_gpu_that_nvml_finds_is_sampled_under_mlflows_names(run_store, client, monkeypatch):
    monkeypatch.setattr(system_metrics, "GPUMonitor", OneGpu)
    logger = run_store.start_run(TrainConfig())
    with SystemMetrics(logger, seconds=60):
        pass
    logger.finish("FINISHED")
    assert history(client, logger.run_id, "system/gpu_0_utilization_percentage") == [(0, 37.0)]
    assert system_keys(client, logger.run_id) == MLFLOWS_METRICS | {"system/gpu_0_utilization_percentage",
                                                                    "system/gpu_0_memory_usage_megabytes"}


def test_off_samples_nothing(run_store, client):
    logger = run_store.start_run(TrainConfig())
    with SystemMetrics(logger, seconds=0):
        pass
    logger.finish("FINISHED")
    assert system_keys(client, logger.run_id) == set()


def test_the_interval_comes_from_the_environment_and_zero_turns_it_off(monkeypatch):
    monkeypatch.delenv("CNNKIT_SYSTEM_METRICS_SECONDS", raising=False)
    assert sampling_seconds() == 10
    monkeypatch.setenv("CNNKIT_SYSTEM_METRICS_SECONDS", "0")
    assert sampling_seconds() == 0
    monkeypatch.setenv("CNNKIT_SYSTEM_METRICS_SECONDS", "2.5")
    assert sampling_seconds() == 2.5
    for wrong in ("often", "0.5", "-1", "7200"):
        monkeypatch.setenv("CNNKIT_SYSTEM_METRICS_SECONDS", wrong)
        with pytest.raises(InputError, match="CNNKIT_SYSTEM_METRICS_SECONDS must be 0"):
            sampling_seconds()


def test_ray_workers_get_the_interval(monkeypatch):
    monkeypatch.setenv("CNNKIT_SYSTEM_METRICS_SECONDS", "0")
    assert worker_environment("sqlite:////tmp/mlflow.db")["CNNKIT_SYSTEM_METRICS_SECONDS"] == "0"


def test_a_store_that_gave_up_ends_the_sampling_not_the_run(run_store, monkeypatch, caplog):
    logger = run_store.start_run(TrainConfig())

    def refused(values, step):
        raise StoreUnavailable("tracking store busy/unreachable since 12:00:00")

    monkeypatch.setattr(logger, "log_metrics", refused)
    with caplog.at_level(logging.WARNING, logger=system_metrics.__name__):
        with SystemMetrics(logger, seconds=60):
            pass
    assert "no longer logged: tracking store busy/unreachable since 12:00:00" in caplog.text


def test_a_store_that_hangs_does_not_hold_up_the_runs_end(run_store, monkeypatch):
    logger = run_store.start_run(TrainConfig())
    release = threading.Event()
    monkeypatch.setattr(type(run_store), "logged_steps", lambda store, run_id, key: release.wait() and [])
    monkeypatch.setattr(system_metrics, "STOP_WAIT_SECONDS", 0.1)
    sampled = SystemMetrics(logger, seconds=60)
    training = threading.Thread(target=lambda: sampled.__enter__().__exit__(None, None, None))
    training.start()
    training.join(60)
    ended = not training.is_alive()
    release.set()
    assert ended


@pytest.mark.slow
@pytest.mark.parametrize("seconds", ["1", "0"])
def test_a_trained_run_holds_system_metrics_unless_they_are_off(tmp_path, monkeypatch, seconds):
    from cnnkit.training import train

    monkeypatch.setenv("CNNKIT_SYSTEM_METRICS_SECONDS", seconds)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    result = train(TrainConfig(dataset="digits", arch="kaggle_mnist_cnn", epochs=1, batch_size=64, seed=7),
                   tracking_uri=store)
    assert result.status == "FINISHED", result.error
    client = make_client(store)
    if seconds == "0":
        assert system_keys(client, result.run_id) == set()
    else:
        assert system_keys(client, result.run_id) == MLFLOWS_METRICS
        steps = [step for step, _ in history(client, result.run_id)]
        assert steps == list(range(len(steps))) and steps

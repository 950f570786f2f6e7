"""A run's system metrics: MLflow's own monitors (CPU and memory, disk and network from psutil; each
NVIDIA GPU's use and memory through NVML when there is one) sampled every
`CNNKIT_SYSTEM_METRICS_SECONDS` while the run trains, under MLflow's names (`system/...`, see
`run_schema`), so MLflow's UI shows them in its System metrics tab too.

Not MLflow's `SystemMetricsMonitor`: that one logs through a client of its own on the global
tracking URI, asks the store every interval whether the run still runs, and logs nothing for a run
shorter than one interval. Here the samples go into the run's `RunLogger`, so they reach the run's
own store (a SQLite file or a team server) through its patience with a busy store; sampling never
waits on the store, and a run that ends takes one last sample, so every monitored run holds one.

The numbers are the machine's, not the run's: runs training at once on one machine (the app's
threads) each record the same CPU and memory use, all their work together."""

from __future__ import annotations

import logging
import os
import threading

from mlflow.system_metrics.metrics.cpu_monitor import CPUMonitor
from mlflow.system_metrics.metrics.disk_monitor import DiskMonitor
from mlflow.system_metrics.metrics.gpu_monitor import GPUMonitor
from mlflow.system_metrics.metrics.network_monitor import NetworkMonitor

from cnnkit.errors import InputError, one_line
from cnnkit.tracking.run_schema import SYSTEM_CPU, SYSTEM_PREFIX

log = logging.getLogger(__name__)

SECONDS_VARIABLE = "CNNKIT_SYSTEM_METRICS_SECONDS"
DEFAULT_SECONDS = 10.0  # MLflow's default sampling interval
STOP_WAIT_SECONDS = 5.0  # how long a run's end waits for its last sample (the first step's read may hang on the store)


def sampling_seconds() -> float:
    """CNNKIT_SYSTEM_METRICS_SECONDS, default 10: how often a run samples the machine; 0 turns it off."""
    text = os.environ.get(SECONDS_VARIABLE, str(DEFAULT_SECONDS))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (seconds == 0 or 1 <= seconds <= 3600):
        raise InputError(f"{SECONDS_VARIABLE} must be 0 (off) or a number of seconds between 1 and 3600, got {text!r}.")
    return seconds


def _gpu_monitor() -> GPUMonitor | None:
    """NVML's monitor of every NVIDIA GPU here; None without nvidia-ml-py, a driver or a GPU."""
    try:
        return GPUMonitor()
    except Exception as error:
        log.debug("No GPU metrics: %s", one_line(error))
        return None


class SystemMetrics:
    """`with SystemMetrics(logger):` samples the machine every `seconds` on its own thread until the
    block ends, then once more; each sample is the mean over the interval before it (CPU) or the
    value then. `logger` is the run's `RunLogger`; steps count the samples from 0, after those the
    run holds (a resumed run). Off (nothing at all) when `seconds` is 0."""

    def __init__(self, logger, seconds: float | None = None):
        self.logger = logger
        self.seconds = sampling_seconds() if seconds is None else seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name=f"system metrics {logger.run_id[:8]}",
                                        daemon=True)

    def __enter__(self) -> SystemMetrics:
        if self.seconds:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.seconds:
            self._stop.set()
            self._thread.join(STOP_WAIT_SECONDS)

    def _sample_until_stopped(self) -> None:
        try:
            monitors = [CPUMonitor(), DiskMonitor(), NetworkMonitor(), *filter(None, [_gpu_monitor()])]
            self._collect(monitors)  # psutil's CPU use is since this thread's previous call: the first starts the clock
            step = self._first_step()
            while not self._stop.wait(self.seconds):
                self._log(monitors, step)
                step += 1
            self._log(monitors, step)
        except Exception as error:  # a full disk, a store gone: the run goes on, and says why if it can't
            log.warning("System metrics of run %s no longer logged: %s", self.logger.run_id, one_line(error))

    def _first_step(self) -> int:
        """After the run's last sample (a resumed run has some), else 0."""
        try:
            return max(self.logger.store.logged_steps(self.logger.run_id, SYSTEM_CPU), default=-1) + 1
        except Exception as error:  # a busy store: samples may repeat a step, never hold up the run
            log.warning("System metrics of run %s start at step 0: %s", self.logger.run_id, one_line(error))
            return 0

    @staticmethod
    def _collect(monitors) -> dict[str, float]:
        for monitor in monitors:
            monitor.collect_metrics()
        values = {}
        for monitor in monitors:
            values.update(monitor.aggregate_metrics())
            monitor.clear_metrics()
        return values

    def _log(self, monitors, step: int) -> None:
        self.logger.log_metrics({SYSTEM_PREFIX + key: value for key, value in self._collect(monitors).items()}, step)

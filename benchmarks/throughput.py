"""Training throughput through cnnkit (MLflow logging on, per-batch loss and learning rate
included), both called directly and launched through the app's JobManager (a background thread),
against bare `model.fit` on the same model, data and batch size, in one process.

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/throughput.py

Both sides run the same epochs; each epoch is timed from its start to its end (training and
validation), the first epoch of each run is dropped (graph tracing), and the runs alternate so
machine noise hits both. Prints images/second for each and the ratios to bare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import keras

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.jobs import JobManager
from cnnkit.training import build, compile_model, load_data, one_hot, train


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def bare_fit_seconds(cfg: TrainConfig, data) -> list[float]:
    keras.utils.set_random_seed(cfg.seed)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, steps_per_epoch=len(data.x_train) // cfg.batch_size + 1)
    timer = EpochTimer()
    model.fit(data.x_train, one_hot(data.y_train, data.num_classes), batch_size=cfg.batch_size, epochs=cfg.epochs,
              validation_data=(data.x_val, one_hot(data.y_val, data.num_classes)), shuffle=True, verbose=0,
              callbacks=[timer])
    return timer.seconds[1:]


def logged_epoch_seconds(store: str, run_id: str) -> list[float]:
    history = tracking.make_client(store).get_metric_history(run_id, "epoch_seconds")
    return [m.value for m in sorted(history, key=lambda m: m.step)][1:]


def cnnkit_seconds(cfg: TrainConfig, store: str) -> list[float]:
    result = train(cfg, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    return logged_epoch_seconds(store, result.run_id)


def job_manager_seconds(manager: JobManager, cfg: TrainConfig, store: str) -> list[float]:
    job = manager.wait(manager.submit(cfg), timeout=3600)
    assert job.state == "finished", job.error
    return logged_epoch_seconds(store, job.run_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--arch", default="kaggle_mnist_cnn")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-limit", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cfg = TrainConfig(dataset=args.dataset, arch=args.arch, batch_size=args.batch_size, epochs=args.epochs,
                      train_limit=args.train_limit, val_fraction=0.1)
    data = load_data(cfg)
    n = len(data.x_train)
    timings = {"bare model.fit": [], "cnnkit train": [], "JobManager job": []}
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/mlflow.db"
        manager = JobManager(tracking_uri=store, max_concurrent=1)
        arms = {
            "bare model.fit": lambda: bare_fit_seconds(cfg, data),
            "cnnkit train": lambda: cnnkit_seconds(cfg, store),
            "JobManager job": lambda: job_manager_seconds(manager, cfg, store),
        }
        for round_number in range(args.rounds):
            order = list(arms) if round_number % 2 == 0 else list(reversed(arms))  # no arm always goes first
            for name in order:
                timings[name] += arms[name]()
        manager.shutdown()
    rates = {name: n / statistics.median(seconds) for name, seconds in timings.items()}
    bare = rates["bare model.fit"]
    print(f"model {cfg.arch} on {cfg.dataset}: {n} training images, batch {cfg.batch_size}, "
          f"{len(timings['bare model.fit'])} timed epochs each, backend {keras.backend.backend()}")
    for name, seconds in timings.items():
        print(f"{name:<15}: {rates[name]:8.0f} images/s (median epoch {statistics.median(seconds):.2f}s)"
              f"  ratio to bare {rates[name] / bare:.3f}")
    print("required: ratio >= 0.95")


if __name__ == "__main__":
    main()

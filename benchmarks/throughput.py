"""Training throughput through cnnkit (MLflow logging on, per-batch loss and learning rate
included), both called directly and launched through the app's JobManager (a background thread),
against bare `model.fit` on the same model, data and batch size, in one process, for each
learning-rate schedule; and what `steps_per_execution` changes.

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/throughput.py
    .venv/bin/python benchmarks/throughput.py --small        # digits, a quick check

Each arm runs the same epochs; each epoch is timed from its start to its end (training and
validation), the first epoch of each run is dropped (graph tracing), and the arms alternate, in
turned order, for at least 7 rounds so machine noise hits them all. Prints images/second for each
arm and its ratio to bare fit: the median of the per-round ratios (each arm against bare fit in the
same round) with a distribution-free 95 % interval (benchmarks/median_interval.py), so a 3 %
overhead can be told from noise on a shared machine.
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
from cnnkit.config.data_loading import load_data
from cnnkit.training import train
from cnnkit.training.network import build, compile_model, one_hot
from median_interval import median_interval  # benchmarks/ is on the path when a script in it runs

SCHEDULES = {  # the settings each schedule needs on top of the base config
    "constant": {},
    "plateau": {"schedule": "plateau"},
    "cyclic": {"schedule": "cyclic", "max_lr": 6e-3, "cycle_epochs": 1.0},
    "one_cycle": {"schedule": "one_cycle", "max_lr": 6e-3},
}
TARGET = 0.97
ROUNDS = 7  # the fewest with a 95 % interval to spare: its smallest and largest ratio hold the median at 98 %


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def bare_fit_seconds(cfg: TrainConfig, data) -> list[float]:
    """Epoch seconds of plain `model.fit` on the config's model, optimizer and schedule."""
    keras.utils.set_random_seed(cfg.seed)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, steps_per_epoch=-(-len(data.x_train) // cfg.batch_size))
    timer = EpochTimer()
    model.fit(data.x_train, one_hot(data.y_train, data.num_classes), batch_size=cfg.batch_size, epochs=cfg.epochs,
              validation_data=(data.x_val, one_hot(data.y_val, data.num_classes)), shuffle=True, verbose=0,
              callbacks=[timer])
    return timer.seconds[1:]


def logged_epoch_seconds(store: str, run_id: str) -> list[float]:
    history = tracking.RunStore(store).epoch_history(run_id).sort_values("epoch")  # the store's one route
    return history[tracking.run_schema.EPOCH_SECONDS].tolist()[1:]


def cnnkit_seconds(cfg: TrainConfig, store: str) -> list[float]:
    result = train(cfg, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    return logged_epoch_seconds(store, result.run_id)


def job_manager_seconds(manager: JobManager, cfg: TrainConfig, store: str) -> list[float]:
    job = manager.wait(manager.submit(cfg), timeout=3600)
    assert job.state == "finished", job.error
    return logged_epoch_seconds(store, job.run_id)


def measure(cfg: TrainConfig, schedules=tuple(SCHEDULES), rounds: int = ROUNDS,
            steps_per_execution: int = 0) -> list[dict]:
    """One row per arm: schedule, arm, images/s (median epoch over all rounds) and its ratio to bare fit
    with that schedule: the median per-round ratio and its 95 % interval (`ratio_interval`).
    `steps_per_execution` > 1 adds bare and cnnkit arms with that many steps per execution."""
    data = load_data(cfg)
    n = len(data.x_train)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/mlflow.db"
        manager = JobManager(tracking_uri=store, max_concurrent=1)
        for schedule in schedules:
            scheduled = cfg.replace(**SCHEDULES[schedule])
            arms = {
                "bare model.fit": lambda c=scheduled: bare_fit_seconds(c, data),
                "cnnkit train": lambda c=scheduled: cnnkit_seconds(c, store),
                "JobManager job": lambda c=scheduled: job_manager_seconds(manager, c, store),
            }
            if steps_per_execution > 1:
                batched = scheduled.replace(steps_per_execution=steps_per_execution)
                arms[f"bare fit, {steps_per_execution} steps/execution"] = lambda c=batched: bare_fit_seconds(c, data)
                arms[f"cnnkit, {steps_per_execution} steps/execution"] = lambda c=batched: cnnkit_seconds(c, store)
            timings: dict[str, list[list[float]]] = {name: [] for name in arms}  # arm -> each round's epochs
            for round_number in range(rounds):
                order = list(arms) if round_number % 2 == 0 else list(reversed(arms))  # no arm always goes first
                for name in order:
                    timings[name].append(arms[name]())
            for name, per_round in timings.items():
                seconds = [epoch for epochs in per_round for epoch in epochs]
                ratios = [statistics.median(bare) / statistics.median(own)  # speed ratio: bare time / own time
                          for own, bare in zip(per_round, timings["bare model.fit"])]
                interval = median_interval(ratios)
                rows.append({"schedule": schedule, "arm": name, "images_per_s": n / statistics.median(seconds),
                             "ratio": interval.median, "ratio_interval": interval,
                             "median_epoch_s": statistics.median(seconds)})
        manager.shutdown()
    return rows


def print_rows(cfg: TrainConfig, n_train: int, rows: list[dict]) -> None:
    print(f"model {cfg.arch} on {cfg.dataset}: {n_train} training images, batch {cfg.batch_size}, "
          f"{cfg.epochs - 1} timed epochs per run, backend {keras.backend.backend()}")
    for row in rows:
        print(f"{row['schedule']:<10} {row['arm']:<32}: {row['images_per_s']:9.0f} images/s "
              f"(median epoch {row['median_epoch_s']:.2f}s)  ratio to bare {row['ratio_interval'].describe()}")
    print(f"target: cnnkit train and JobManager job ratio >= {TARGET} (median of the per-round ratios; an interval "
          "that straddles it can't tell the difference from noise)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--arch", default="kaggle_mnist_cnn")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-limit", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of all arms; 6 or more give a 95 %% interval")
    parser.add_argument("--schedules", default=",".join(SCHEDULES), help="comma-separated: " + ", ".join(SCHEDULES))
    parser.add_argument("--steps-per-execution", type=int, default=0, help="also time this many steps per execution")
    parser.add_argument("--small", action="store_true", help="digits, 3 epochs: a quick check on any machine")
    args = parser.parse_args(argv)
    if args.small:
        args.dataset, args.epochs, args.train_limit = "digits", 3, 0
    cfg = TrainConfig(dataset=args.dataset, arch=args.arch, batch_size=args.batch_size, epochs=args.epochs,
                      train_limit=args.train_limit, val_fraction=0.1)
    rows = measure(cfg, args.schedules.split(","), args.rounds, args.steps_per_execution)
    print_rows(cfg, len(load_data(cfg).x_train), rows)


if __name__ == "__main__":
    main()

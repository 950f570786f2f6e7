"""Loading time of the Runs page's table (`RunStore.runs_frame`) over a SQLite store of 500 runs.

    .venv/bin/python benchmarks/runs_table.py [--runs 500]

Fills a temporary store with runs shaped like `train`'s: every TrainConfig param and cnnkit's
tags (through `RunStore.start_run`), 10 epochs of the epoch metrics (`run_schema.EPOCH_METRICS`),
test metrics, a person's tag, a mix of statuses. Each run's metrics and tag go in one `log_batch`
of MLflow's client (`store_opening.make_client`: one request a run, where the run's buffered
`RunLogger` would start a writer thread for each).

Then, in a fresh process with Keras loaded (as in the app), times opening the store (MLflow's
one-off schema check per process) and the first `runs_frame` call, and in this process the
median of 5 calls (wall and CPU seconds: CPU shows the cost on a busy machine). The 2 s budget
applies to the `runs_frame` calls.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time

from mlflow.entities import Metric, RunTag

from cnnkit import tracking
from cnnkit.tracking import run_schema
from cnnkit.tracking.store_opening import make_client
from cnnkit.models.architectures import ARCHITECTURES
from cnnkit.config import FLIPS, OPTIMIZERS, PREFILTERS, SCHEDULES, TrainConfig

BUDGET_S = 2.0
EPOCHS = 10
TEST_METRICS = ("test_loss", "test_accuracy", "test_top1_accuracy", "test_top3_accuracy", "test_top5_accuracy")


def random_config(rng: random.Random) -> TrainConfig:
    return TrainConfig(
        dataset=rng.choice(["digits", "mnist", "fashion_mnist"]), arch=rng.choice(sorted(ARCHITECTURES)),
        optimizer=rng.choice(OPTIMIZERS), learning_rate=rng.choice([1e-4, 3e-4, 1e-3]), schedule=rng.choice(SCHEDULES),
        max_lr=1e-2, flip=rng.choice(FLIPS), rotation=rng.choice([0, 10, 15]), zoom=rng.choice([0, 0.1]),
        prefilter=rng.choice(PREFILTERS), label_smoothing=rng.choice([0, 0.1]), early_stopping=rng.choice([0, 3]),
        epochs=EPOCHS,
    )


def fill(uri: str, n_runs: int) -> None:
    store, client, rng = tracking.RunStore(uri), make_client(uri), random.Random(0)
    for i in range(n_runs):
        logger = store.start_run(random_config(rng))
        now = int(time.time() * 1000)
        metrics = [
            Metric(key, rng.random(), now, epoch)
            for epoch in range(1, EPOCHS + 1)
            for key in run_schema.EPOCH_METRICS
        ] + [Metric(key, rng.random(), now, EPOCHS) for key in TEST_METRICS]
        client.log_batch(logger.run_id, metrics=metrics, tags=[RunTag("batch", str(i % 7))])
        if i % 50:  # every 50th run stays RUNNING
            client.set_terminated(logger.run_id, rng.choice(["FINISHED"] * 8 + ["FAILED", "KILLED"]))


def time_first_call(uri: str) -> None:
    """Runs in a fresh process: prints the seconds to open the store (and read its experiment), of
    the first `runs_frame` call, and its row count."""
    import keras  # noqa: F401  (the app's heap: garbage collection costs grow with it)

    started = time.perf_counter()
    store = tracking.RunStore(uri)
    store.experiment_id()  # the experiment exists: a read, which MLflow's schema check comes before
    opened = time.perf_counter()
    frame = store.runs_frame()
    print(opened - started, time.perf_counter() - opened, len(frame))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--first-call-of", help=argparse.SUPPRESS)  # internal: the fresh process's part
    args = parser.parse_args()
    if args.first_call_of:
        time_first_call(args.first_call_of)
        return

    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/mlflow.db"
        started = time.perf_counter()
        fill(store, args.runs)
        print(f"filled {args.runs} runs in {time.perf_counter() - started:.1f}s")

        output = subprocess.run([sys.executable, __file__, "--first-call-of", store], capture_output=True, text=True,
                                check=True).stdout.split()
        opening, first, rows = float(output[0]), float(output[1]), int(output[2])
        run_store = tracking.RunStore(store)
        wall, cpu = [], []
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.process_time()
            run_store.runs_frame()
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)

    median = statistics.median(wall)
    print(f"fresh process: opening the store {opening:.3f}s, first runs_frame over {rows} runs {first:.3f}s")
    print(f"warm runs_frame, 5 calls: median {median:.3f}s (min {min(wall):.3f}s, max {max(wall):.3f}s), "
          f"median CPU {statistics.median(cpu):.3f}s")
    print(f"budget {BUDGET_S:.1f}s: {'OK' if max(first, median) < BUDGET_S else 'OVER'}")


if __name__ == "__main__":
    main()

"""Data work of the Inspect and Compare pages for a CIFAR-100-sized run (budget 2 s).

    .venv/bin/python benchmarks/compare_data.py [--repeats 3]

Logs one synthetic run to a temporary SQLite store with the artifacts `train` writes, made by
the same code (`evaluation.evaluate` on 10,000 test predictions over 100 classes at ~40%
accuracy, so ~6,000 mistakes with 100 probabilities each; 100 mistake images of 32x32x3).
Then times, on an open store (`tracking.RunStore`) and with Keras loaded (through cnnkit.training) as
in the app: `RunStore.evaluation_of_run`, the confusion-matrix figure (`charts.confusion_matrix`,
row-normalised as on the Inspect page; left out while charts.py lacks it) and the 100-image
gallery (`charts.image_grid` with a caption per image), each figure also serialised to JSON
as Streamlit does. Prints the first call's and the median call's wall seconds per step and
the total against the budget, and the median CPU seconds (what the steps cost on a busy machine,
where wall time also counts other processes' turns).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from cnnkit import tracking
from cnnkit.explorer import charts
from cnnkit.config import TrainConfig
from cnnkit.datasets import CIFAR100_CLASSES
from cnnkit.training.evaluation import evaluate
from cnnkit.training.logged_training import MISTAKE_IMAGES

BUDGET_S = 2.0
N_TEST = 10_000


def log_synthetic_run(store) -> str:
    """A FINISHED run with CIFAR-100-shaped evaluation artifacts, logged as `train` logs them."""
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, len(CIFAR100_CLASSES), N_TEST)
    logits = rng.normal(size=(N_TEST, len(CIFAR100_CLASSES)))
    logits[np.arange(N_TEST), y_true] += 2.2  # about 40% top-1 accuracy
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    result = evaluate(y_true, probabilities, CIFAR100_CLASSES)
    images = rng.integers(0, 256, (MISTAKE_IMAGES, 32, 32, 3), dtype=np.uint8)

    logger = store.start_run(TrainConfig(dataset="cifar100", arch="cifar10_bn_cnn"))
    logger.log_metrics(result.metrics(), step=1)
    logger.log_json({"class_names": list(CIFAR100_CLASSES), "matrix": result.confusion.tolist()},
                    "evaluation/confusion_matrix.json")
    logger.log_table(result.per_class, "evaluation/per_class.csv")
    logger.log_table(result.mistakes, "evaluation/mistakes.csv")
    logger.log_arrays({"index": result.mistakes["index"].to_numpy()[:MISTAKE_IMAGES], "images": images},
                      "evaluation/mistake_images.npz")
    logger.finish("FINISHED")
    print(f"synthetic run: {len(CIFAR100_CLASSES)} classes, test accuracy {result.accuracy:.1%}, "
          f"{len(result.mistakes):,} mistakes")
    return logger.run_id


def steps(store, run_id: str) -> dict:
    """The pages' data work, one callable per step; each step's result feeds the next."""
    state = {}

    def load():
        state["evaluation"] = store.evaluation_of_run(run_id)

    def confusion():
        evaluation = state["evaluation"]
        charts.confusion_matrix(evaluation.confusion, evaluation.class_names, normalize=True).to_json()

    def gallery():
        evaluation = state["evaluation"]
        mistakes = evaluation.mistakes.set_index("index")
        indices = list(evaluation.mistake_images)
        captions = [f"true: {evaluation.class_names[mistakes.loc[i, 'true']]}\n"
                    f"pred: {evaluation.class_names[mistakes.loc[i, 'predicted']]}" for i in indices]
        charts.image_grid(np.stack(list(evaluation.mistake_images.values())), captions, columns=10).to_json()

    found = {"evaluation_of_run": load}
    if hasattr(charts, "confusion_matrix"):  # added to charts.py alongside this benchmark
        found["confusion_matrix (100x100) + JSON"] = confusion
    else:
        print("charts.confusion_matrix does not exist yet: its step is left out")
    return {**found, "image_grid (100 images) + JSON": gallery}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} CPU cores available")

    with tempfile.TemporaryDirectory() as tmp:
        store = tracking.RunStore(f"sqlite:///{tmp}/mlflow.db")
        run_id = log_synthetic_run(store)
        wall: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for name, step in steps(store, run_id).items():
                started, started_cpu = time.perf_counter(), time.process_time()
                step()
                wall.setdefault(name, []).append(time.perf_counter() - started)
                cpu.setdefault(name, []).append(time.process_time() - started_cpu)

    for name, seconds in wall.items():
        print(f"{name:<36} first {seconds[0]:.3f}s  median {statistics.median(seconds):.3f}s  "
              f"median CPU {statistics.median(cpu[name]):.3f}s")
    first = sum(seconds[0] for seconds in wall.values())
    median = sum(statistics.median(seconds) for seconds in wall.values())
    median_cpu = sum(statistics.median(seconds) for seconds in cpu.values())
    print(f"{'total':<36} first {first:.3f}s  median {median:.3f}s  median CPU {median_cpu:.3f}s")
    print(f"budget {BUDGET_S:.1f}s: {'OK' if max(first, median) < BUDGET_S else 'OVER'}")


if __name__ == "__main__":
    main()

"""Train the seed 001 and seed 002 presets on real MNIST and print test accuracy and wall time
next to the figures the write-ups report.

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/accuracy.py [--epochs N] [--presets ...]

`--epochs` shortens every preset (the write-ups train 30 epochs); the printed table says how
many epochs each run had. Runs are logged to MLflow like any other (default store unless
MLFLOW_TRACKING_URI or --tracking-uri says otherwise), so they can be inspected afterwards.
"""

from __future__ import annotations

import argparse
import time

from cnnkit.config.presets import get_preset
from cnnkit.training import train

REPORTED = {
    "seed001_kaggle_mnist": "99.14 % validation, 99.47 % on Kaggle's test set",
    "seed002_baseline": "about 99.3 % test",
    "seed002_annealing": "about 99.3 % test or above",
    "seed002_augmented": "about 99.3 % test or above",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="+", default=list(REPORTED))
    parser.add_argument("--epochs", type=int, help="override every preset's epoch count")
    parser.add_argument("--tracking-uri")
    args = parser.parse_args()
    rows = []
    for name in args.presets:
        overrides = {"epochs": args.epochs} if args.epochs else {}
        cfg = get_preset(name).config(**overrides)
        started = time.perf_counter()
        result = train(cfg, tracking_uri=args.tracking_uri, run_name=f"benchmark {name}")
        minutes = (time.perf_counter() - started) / 60
        if result.status != "FINISHED":
            raise SystemExit(f"{name} ended {result.status}: {result.error}")
        row = (name, cfg.epochs, result.metrics.get("final_val_accuracy", float("nan")), result.metrics["test_accuracy"],
               minutes, REPORTED.get(name, "-"), result.run_id)
        rows.append(row)
        print(f"{name}: {cfg.epochs} epochs, val {row[2]:.2%}, test {row[3]:.2%}, {minutes:.1f} min", flush=True)
    print(f"\n{'preset':<24}{'epochs':>7}{'val acc':>10}{'test acc':>10}{'minutes':>9}  seed reported")
    for name, epochs, val, test, minutes, reported, _ in rows:
        print(f"{name:<24}{epochs:>7}{val:>10.2%}{test:>10.2%}{minutes:>9.1f}  {reported}")


if __name__ == "__main__":
    main()

"""The corruption sweep's speed (issue 23): 2,000 MNIST test images x 10 corruptions x 5 severities on
`mnist_cnn`, against plain inference on the same images in the same process (target: the sweep in
<= 90 s on 2 CPU cores).

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/corruption_sweep.py [--images N] [--all]

The network is built untrained, as a run's model is (`training.network.build`, the input layers
included): the timing is what is measured, not the accuracies it prints. `--all` sweeps every
corruption cnnkit has instead of the first 10.
"""

from __future__ import annotations

import argparse
import os
import time

from cnnkit.config import TrainConfig, load_data
from cnnkit.models import corruptions
from cnnkit.training import sweep_model
from cnnkit.training.corruption_sweep import BATCH_SIZE
from cnnkit.training.network import build


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--all", action="store_true", help="every corruption, not the first 10")
    args = parser.parse_args()
    names = corruptions.CORRUPTIONS if args.all else corruptions.CORRUPTIONS[:10]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    cfg = TrainConfig(dataset="mnist", arch="mnist_cnn")
    data = load_data(cfg)
    images, labels = data.x_test[:args.images], data.y_test[:args.images]
    model = build(cfg, data.input_shape, data.num_classes)
    model.predict_on_batch(images[:BATCH_SIZE].astype("float32"))  # traced once, as a loaded run's model is

    started = time.perf_counter()
    for start in range(0, len(images), BATCH_SIZE):
        model.predict_on_batch(images[start:start + BATCH_SIZE].astype("float32"))
    plain = time.perf_counter() - started

    started = time.perf_counter()
    result = sweep_model(model, images, labels, names=names)
    swept = time.perf_counter() - started
    seen = len(images) * (1 + len(names) * len(corruptions.SEVERITIES))
    print(f"plain inference: {len(images):,} images in {plain:.2f} s, {len(images) / plain:,.0f} images/s")
    print(f"sweep: {len(names)} corruptions x 5 severities + clean = {seen:,} images in {swept:.1f} s, "
          f"{seen / swept:,.0f} images/s ({seen / swept / (len(images) / plain):.2f} x plain inference's rate); "
          f"target <= 90 s: {'met' if swept <= 90 else 'MISSED'}")
    per_corruption = result.table.groupby("corruption", sort=False)["accuracy"].mean()
    print(f"(untrained) clean {result.clean_accuracy:.2%}, mCA {result.mean_accuracy:.2%}; "
          + ", ".join(f"{name} {value:.2%}" for name, value in per_corruption.items()))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""The cost of recording training dynamics (issue 24: at most 10 % of the epoch time): epochs of the
same model on MNIST with the TrainingDynamics callback on and off, arms alternated in one process,
the ratio of their median epoch times, and the callback's own prediction time as a share of an epoch.

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/training_dynamics.py [--train-limit N]
        [--sample S] [--rounds R] [--arch NAME]

The callback predicts its sample through training's test-set prediction after every epoch, as a run
does. `--sample` defaults to the setting's default (dynamics_sample); `--train-limit` (0: all 54,000
training images) shortens the epochs on a slow machine, and the ratio then holds for that sample's
share of the training set (printed). Prints `uptime` first and last: the figures mean little on a
loaded machine.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import threading
import time

import numpy as np

from cnnkit.config import TrainConfig, load_data
from cnnkit.training.callbacks import TrainingDynamics
from cnnkit.training.network import build, compile_model, one_hot
from cnnkit.training.prediction import predict_test_images


def main() -> None:
    default = TrainConfig()
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-limit", type=int, default=0)
    parser.add_argument("--sample", type=int, default=default.dynamics_sample)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--arch", default=default.arch)
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    cfg = TrainConfig(dataset="mnist", arch=args.arch, train_limit=args.train_limit, dynamics_sample=args.sample)
    data = load_data(cfg)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, math.ceil(len(data.x_train) / cfg.batch_size))
    labels = one_hot(data.y_train, data.num_classes)
    predicting: list[float] = []

    def timed_prediction(m, images):
        started = time.perf_counter()
        probabilities = predict_test_images(m, images, cfg, threading.Event())
        predicting.append(time.perf_counter() - started)
        return probabilities

    dynamics = TrainingDynamics.for_run(data, cfg, timed_prediction, lambda arrays, name: None)
    model.fit(data.x_train[:512], labels[:512], batch_size=cfg.batch_size, epochs=1, verbose=0,
              callbacks=[dynamics])  # compiles the train and predict steps before any timing
    predicting.clear()
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        for arm in ("off", "on"):
            started = time.perf_counter()
            model.fit(data.x_train, labels, batch_size=cfg.batch_size, epochs=1, shuffle=True, verbose=0,
                      callbacks=[dynamics] if arm == "on" else [])
            times[arm].append(time.perf_counter() - started)
            print(f"{arm}: {times[arm][-1]:.1f} s", flush=True)
    off, on, predict = np.median(times["off"]), np.median(times["on"]), np.median(predicting)
    sampled = len(dynamics.labels)
    print(f"\n{args.arch}, batch {cfg.batch_size}, {len(data.x_train):,} training images, {sampled:,} sampled "
          f"({sampled / len(data.x_train):.0%}), {args.rounds} epochs per arm")
    print(f"median epoch off {off:.1f} s, on {on:.1f} s: ratio {on / off:.3f} (target <= 1.10)")
    print(f"the callback's own prediction {predict:.2f} s per epoch: {predict / off:.1%} of an epoch without it "
          "(steadier than the ratio on a shared machine)")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()

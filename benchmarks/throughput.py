"""Training throughput through cnnkit (MLflow logging on, per-batch loss and learning rate
included) against bare `model.fit` on the same model, data and batch size, in one process.

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/throughput.py

Both sides run the same epochs; each epoch is timed from its start to its end (training and
validation), the first epoch of each run is dropped (graph tracing), and the runs alternate so
machine noise hits both. Prints images/second for each and the ratio cnnkit / bare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import keras

from cnnkit import tracking
from cnnkit.config import TrainConfig
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


def cnnkit_seconds(cfg: TrainConfig, store: str) -> list[float]:
    result = train(cfg, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    history = tracking.make_client(store).get_metric_history(result.run_id, "epoch_seconds")
    return [m.value for m in sorted(history, key=lambda m: m.step)][1:]


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
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/mlflow.db"
        for _ in range(args.rounds):
            bare += bare_fit_seconds(cfg, data)
            ours += cnnkit_seconds(cfg, store)
    bare_rate, our_rate = n / statistics.median(bare), n / statistics.median(ours)
    print(f"model {cfg.arch} on {cfg.dataset}: {n} training images, batch {cfg.batch_size}, "
          f"{len(bare)} timed epochs each, backend {keras.backend.backend()}")
    print(f"bare model.fit : {bare_rate:8.0f} images/s (median epoch {statistics.median(bare):.2f}s)")
    print(f"cnnkit train   : {our_rate:8.0f} images/s (median epoch {statistics.median(ours):.2f}s)")
    print(f"ratio cnnkit / bare: {our_rate / bare_rate:.3f}  (required: >= 0.95)")


if __name__ == "__main__":
    main()

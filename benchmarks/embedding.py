"""The Embedding tab's projections (issue 24: 10,000 examples on a plane in <= 60 s on 2 CPU cores, PCA
at once): MNIST's 10,000 test images through a network trained for one short epoch, their penultimate
features (`embedding.embedding_of_run`, as the page computes them), then PCA and UMAP of them.

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/embedding.py [--train-limit N]
        [--arch NAME] [--cold] [--parallel]

UMAP's first call in a process loads numba's compiled code from its disk cache and compiles what
is not cached; the second call is what every later run's UMAP costs. `--cold` points NUMBA_CACHE_DIR
at an empty folder, so the first call compiles everything (a fresh install's first use). `--parallel`
adds umap-learn's unseeded, multi-threaded mode (`umap_2d(seed=None)`) on the same features, against
the seeded single-thread one the page uses. Prints `uptime` first and last: the figures mean little on a loaded machine.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import tempfile
import time

from cnnkit.config import TrainConfig, load_data
from cnnkit.explorer import embedding
from cnnkit.training.network import build, compile_model, one_hot


def timed(name: str, work, baseline: float | None = None) -> float:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    print(f"{name}: {seconds:.2f} s" + (f" ({seconds / baseline:,.0f}x PCA)" if baseline else ""), flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-limit", type=int, default=10_000, help="training images for the one epoch")
    parser.add_argument("--arch", default=TrainConfig().arch)
    parser.add_argument("--cold", action="store_true", help="an empty numba cache: the first call compiles all")
    parser.add_argument("--parallel", action="store_true", help="also umap-learn's unseeded parallel mode")
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    if args.cold:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="cnnkit-numba-cold-")
    cfg = TrainConfig(dataset="mnist", arch=args.arch, train_limit=args.train_limit)
    data = load_data(cfg)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, math.ceil(len(data.x_train) / cfg.batch_size))
    model.fit(data.x_train, one_hot(data.y_train, data.num_classes), batch_size=cfg.batch_size, epochs=1, verbose=0)
    started = time.perf_counter()
    run = embedding.embedding_of_run(model, data.x_test, data.y_test, data.class_names)
    print(f"{args.arch}: features of {len(run.features):,} test images, {run.features.shape[1]} wide, "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    pca = timed("PCA", lambda: embedding.pca_2d(run.features))
    timed(f"UMAP, first call ({'empty' if args.cold else 'existing'} numba cache)",
          lambda: embedding.umap_2d(run.features), pca)
    timed("UMAP, second call", lambda: embedding.umap_2d(run.features), pca)
    if args.parallel:
        timed("UMAP unseeded, parallel", lambda: embedding.umap_2d(run.features, seed=None), pca)
    print("target: a 2-D projection of 10,000 examples <= 60 s on 2 CPU cores, PCA at once")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()

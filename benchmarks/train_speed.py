"""Training at the GPU's speed, end to end: every figure of the "train at the GPU's speed" work in
one run, as ratios against baselines measured in the same process.

    CNNKIT_DATA_DIR=../shared/datasets KERAS_BACKEND=jax python benchmarks/train_speed.py     # a GPU machine
    KERAS_BACKEND=jax .venv/bin/python benchmarks/train_speed.py --small                     # any machine, minutes

Sections (`--only` picks some):
  throughput    cnnkit train and a JobManager job against bare `model.fit`, for the constant,
                plateau, cyclic and one-cycle schedules, plus `steps_per_execution` (target >= 0.97)
  augmentation  each augmentation's epoch against the plain epoch, ours and Keras' own layers
                (target <= 1.15)
  precision     bare-fit images/s of mixed_bfloat16 and mixed_float16 against float32 at two batch
                sizes (target >= 1.5x at batch >= 1024 on a GPU), and the test accuracy each reaches
  presets       mnist_strong, fashion_strong and (where CIFAR-10 is on disk) cifar10_fast trained
                through cnnkit: test accuracy and wall time

The default sizes aim at about 8 minutes on one H200; `--small` shrinks everything to digits for
a dry run on a CPU. Each section prints its table as it finishes, and `--json FILE` keeps them all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks, run as a script

import augment_speed  # noqa: E402
import throughput  # noqa: E402

from cnnkit.training import accelerators  # noqa: E402
from cnnkit.config import TrainConfig  # noqa: E402
from cnnkit.errors import InputError  # noqa: E402
from cnnkit.config.presets import get_preset  # noqa: E402
from cnnkit.config.data_loading import load_data  # noqa: E402
from cnnkit.training import train  # noqa: E402

STRONG_PRESETS = {"mnist_strong": 0.996, "fashion_strong": 0.945, "cifar10_fast": 0.94}  # name -> target test accuracy
SECTIONS = ("throughput", "augmentation", "precision", "presets")


def section_throughput(small: bool) -> list[dict]:
    cfg = TrainConfig(dataset="digits" if small else "fashion_mnist", arch="mnist_cnn", batch_size=128,
                      epochs=3, val_fraction=0.1)
    rows = throughput.measure(cfg, rounds=2, steps_per_execution=8)
    throughput.print_rows(cfg, len(load_data(cfg).x_train), rows)
    return rows


def section_augmentation(small: bool) -> list[dict]:
    """Our layers against no augmentation; Keras' own layers only in the small run (on a JAX GPU
    each of their epochs takes minutes: keras-team/keras#23229)."""
    settings = augment_speed.SMALL if small else augment_speed.FULL
    rows = augment_speed.measure(**settings, keras_arms=small)
    augment_speed.print_rows(settings, rows)
    return rows


def bare_images_per_second(cfg: TrainConfig, data) -> float:
    seconds = throughput.bare_fit_seconds(cfg, data)
    return len(data.x_train) / statistics.median(seconds)


def section_precision(small: bool) -> list[dict]:
    """Speed: bare fit per precision at each batch size, arms alternated. Accuracy: one cnnkit run each."""
    base = TrainConfig(dataset="digits" if small else "fashion_mnist", arch="resnet_small", optimizer="sgd",
                       learning_rate=0.05, momentum=0.9, epochs=3, val_fraction=0.05)
    data = load_data(base)
    precisions = ("float32", "mixed_bfloat16", "mixed_float16")
    rows = []
    for batch_size in ((64, 256) if small else (256, 1024)):
        rates: dict[str, list[float]] = {p: [] for p in precisions}
        for round_number in range(2):
            for precision in precisions if round_number == 0 else reversed(precisions):
                cfg = base.replace(batch_size=batch_size, precision=precision)
                rates[precision].append(bare_images_per_second(cfg, data))
        for precision in precisions:
            rate = max(rates[precision])
            rows.append({"batch_size": batch_size, "precision": precision, "images_per_s": rate,
                         "speedup": rate / max(rates["float32"])})
    accuracy_epochs = 2 if small else 8
    for precision in precisions:
        cfg = base.replace(batch_size=256 if small else 1024, precision=precision, epochs=accuracy_epochs,
                           schedule="one_cycle", learning_rate=0.02, max_lr=0.4 if not small else 0.1)
        result = train(cfg, run_name=f"train_speed precision {precision}")
        rows.append({"batch_size": cfg.batch_size, "precision": precision, "epochs": accuracy_epochs,
                     "test_accuracy": result.metrics.get("test_accuracy", float("nan")), "status": result.status})
    print(f"\nmixed precision, bare fit of {base.arch} on {base.dataset} ({len(data.x_train)} images), "
          f"backend {keras.backend.backend()}, {accelerators.describe_devices()}")
    for row in rows:
        if "speedup" in row:
            print(f"batch {row['batch_size']:>5} {row['precision']:<15} {row['images_per_s']:9.0f} images/s  "
                  f"x{row['speedup']:.2f} float32")
        else:
            print(f"accuracy, batch {row['batch_size']}, {row['epochs']} epochs, {row['precision']:<15} "
                  f"test {row['test_accuracy']:.2%} ({row['status']})")
    print("target: >= 1.5x float32 at batch >= 1024 on a GPU, test accuracy within noise")
    return rows


def section_presets(small: bool, epochs: int | None) -> list[dict]:
    rows = []
    for name, target in STRONG_PRESETS.items():
        overrides = {"epochs": epochs} if epochs else {}
        if small:
            overrides.update(dataset="digits", epochs=epochs or 2, precision="float32")
        try:
            cfg = get_preset(name).config(**overrides)
            load_data(cfg)
        except InputError as error:  # CIFAR-10 is not on every machine
            print(f"{name}: skipped, {error}")
            rows.append({"preset": name, "skipped": str(error)})
            continue
        started = time.perf_counter()
        result = train(cfg, run_name=f"train_speed {name}")
        seconds = time.perf_counter() - started
        accuracy = result.metrics.get("test_accuracy", float("nan"))
        rows.append({"preset": name, "dataset": cfg.dataset, "epochs": cfg.epochs, "test_accuracy": accuracy,
                     "target": target, "wall_s": seconds, "status": result.status, "run_id": result.run_id})
        shortened = "" if not overrides else f" (shortened: {overrides})"
        print(f"{name}: {result.status}, {cfg.epochs} epochs on {cfg.dataset}, test {accuracy:.2%} "
              f"(target {target:.1%}), {seconds:.0f} s wall{shortened}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="digits and tiny sizes: a dry run on a CPU")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ", ".join(SECTIONS))
    parser.add_argument("--preset-epochs", type=int, help="shorten every strong preset to this many epochs")
    parser.add_argument("--json", type=Path, help="also write every section's rows here")
    args = parser.parse_args(argv)
    print(f"backend {keras.backend.backend()}, {accelerators.describe_devices()}", flush=True)
    results = {}
    for section in args.only.split(","):
        started = time.perf_counter()
        if section == "throughput":
            results[section] = section_throughput(args.small)
        elif section == "augmentation":
            results[section] = section_augmentation(args.small)
        elif section == "precision":
            results[section] = section_precision(args.small)
        elif section == "presets":
            results[section] = section_presets(args.small, args.preset_epochs)
        else:
            raise SystemExit(f"unknown section {section!r}; choose from {', '.join(SECTIONS)}")
        print(f"[{section}: {time.perf_counter() - started:.0f} s]\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()

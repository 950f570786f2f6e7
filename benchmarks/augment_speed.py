"""Training epoch time with each augmentation, through cnnkit's own layers (`cnnkit.models.augment`) and
through Keras' built-in ones (how cnnkit augmented before), against the same model without
augmentation, in one process.

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/augment_speed.py
    KERAS_BACKEND=jax CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/augment_speed.py
    .venv/bin/python benchmarks/augment_speed.py --small   # digits: a quick check on a CPU

Bare `model.fit` on the training images only (augmentation is off in validation, which would
only dilute the difference). The arms alternate over rounds, the first epoch of every fit
(tracing) is dropped, and each arm's median epoch is divided by the plain arm's median.
Keras' built-in rotation/zoom/translation go through `ops.image.affine_transform`, which made a
ResNet epoch with pad_crop >100x slower on an H200 under JAX (keras-team/keras#23229).
"""

from __future__ import annotations

import argparse
import math
import statistics

import keras
from throughput import EpochTimer  # benchmarks/ is on the path when a script in it runs

from cnnkit.config import TrainConfig
from cnnkit.config.data_loading import load_data
from cnnkit.training.network import build, compile_model, one_hot

TARGET_RATIO = 1.15

AUGMENTATIONS = {
    "flip": {"flip": "horizontal"},
    "rotation 10": {"rotation": 10.0},
    "zoom 0.1": {"zoom": 0.1},
    "translate 0.1": {"translate": 0.1},
    "pad_crop 4": {"pad_crop": 4},
}
AUGMENTATIONS["all"] = {key: value for change in AUGMENTATIONS.values() for key, value in change.items()}
NO_AUGMENTATION = {"flip": "none", "rotation": 0.0, "zoom": 0.0, "translate": 0.0, "pad_crop": 0}

FULL = {"dataset": "fashion_mnist", "arch": "resnet_small", "batch_size": 256, "train_limit": 8192, "epochs": 3,
        "rounds": 2}
SMALL = {**FULL, "dataset": "digits", "arch": "kaggle_mnist_cnn", "train_limit": 1024, "batch_size": 64, "epochs": 2}


def keras_augmentation_layers(cfg: TrainConfig, input_shape: tuple[int, int, int]) -> list[keras.layers.Layer]:
    """Keras' preprocessing layers for the config's augmentations, as cnnkit built them before
    `cnnkit.models.augment` (the reference these measurements compare against)."""
    height, width = input_shape[:2]
    stack: list[keras.layers.Layer] = []
    if cfg.flip != "none":
        stack.append(keras.layers.RandomFlip(cfg.flip, seed=cfg.seed))
    if cfg.rotation:
        stack.append(keras.layers.RandomRotation(cfg.rotation / 360, fill_mode="nearest", seed=cfg.seed + 1))
    if cfg.zoom:
        stack.append(keras.layers.RandomZoom(cfg.zoom, fill_mode="nearest", seed=cfg.seed + 2))
    if cfg.translate:
        stack.append(keras.layers.RandomTranslation(cfg.translate, cfg.translate, fill_mode="nearest", seed=cfg.seed + 3))
    if cfg.pad_crop:
        stack.append(keras.layers.RandomTranslation(cfg.pad_crop / height, cfg.pad_crop / width, fill_mode="constant",
                                                    interpolation="nearest", seed=cfg.seed + 4))
    return stack


def keras_augmented_model(cfg: TrainConfig, input_shape, num_classes: int) -> keras.Model:
    """The config's model without augmentation, behind Keras' layers for its augmentations
    (the same order as `cnnkit.training.tricks.input_layers`, which has no pre-filter here)."""
    plain = build(cfg.replace(**NO_AUGMENTATION), input_shape, num_classes)
    return keras.Sequential([keras.Input(input_shape), *keras_augmentation_layers(cfg, input_shape), plain])


def timed_epochs(model: keras.Model, cfg: TrainConfig, data) -> list[float]:
    """Seconds of each epoch after the first (which traces the step)."""
    compile_model(model, cfg, steps_per_epoch=math.ceil(len(data.x_train) / cfg.batch_size))
    timer = EpochTimer()
    model.fit(data.x_train, one_hot(data.y_train, data.num_classes), batch_size=cfg.batch_size, epochs=cfg.epochs,
              shuffle=True, verbose=0, callbacks=[timer])
    return timer.seconds[1:]


def measure(dataset: str, arch: str, batch_size: int, train_limit: int, epochs: int, rounds: int,
            keras_arms: bool = True) -> list[dict]:
    """One row per arm, plain first: {"name", "median_seconds", "ratio"} (ratio to the plain arm's
    median epoch). Arms are "plain", then "<augmentation> (cnnkit)" and, with `keras_arms`,
    "<augmentation> (keras)" (leave those out on a JAX GPU: each takes minutes there)."""
    base = TrainConfig(dataset=dataset, arch=arch, batch_size=batch_size, train_limit=train_limit, epochs=epochs)
    data = load_data(base)
    shape, classes = data.input_shape, data.num_classes
    builders = {"plain": lambda: build(base, shape, classes)}
    for name, change in AUGMENTATIONS.items():
        cfg = base.replace(**change)
        builders[f"{name} (cnnkit)"] = lambda cfg=cfg: build(cfg, shape, classes)
        if keras_arms:
            builders[f"{name} (keras)"] = lambda cfg=cfg: keras_augmented_model(cfg, shape, classes)
    seconds: dict[str, list[float]] = {name: [] for name in builders}
    for round_number in range(rounds):
        order = list(builders) if round_number % 2 == 0 else list(reversed(builders))  # no arm always goes first
        for name in order:
            keras.utils.set_random_seed(base.seed)
            seconds[name] += timed_epochs(builders[name](), base, data)
    plain = statistics.median(seconds["plain"])
    return [
        {"name": name, "median_seconds": statistics.median(times), "ratio": statistics.median(times) / plain}
        for name, times in seconds.items()
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help=f"quick check: {SMALL}")
    parser.add_argument("--without-keras", action="store_true", help="leave out Keras' own layers (slow on JAX GPUs)")
    for option, default in FULL.items():
        parser.add_argument(f"--{option.replace('_', '-')}", type=type(default), help=f"default {default}")
    args = parser.parse_args(argv)
    settings = {key: value if getattr(args, key) is None else getattr(args, key)
                for key, value in (SMALL if args.small else FULL).items()}
    rows = measure(**settings, keras_arms=not args.without_keras)
    print_rows(settings, rows)


def print_rows(settings: dict, rows: list[dict]) -> None:
    print(f"{settings['arch']} on {settings['dataset']}: {settings['train_limit']} training images at most, "
          f"batch {settings['batch_size']}, {settings['epochs']} epochs x {settings['rounds']} rounds per arm "
          f"(first epoch dropped), backend {keras.backend.backend()}")
    for row in rows:
        print(f"{row['name']:<24}: median epoch {row['median_seconds']:7.3f}s  ratio to plain {row['ratio']:6.2f}")
    print(f"target <= {TARGET_RATIO}")


if __name__ == "__main__":
    main()

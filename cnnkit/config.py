"""The one frozen, validated description of a training run.

The UI builds a `TrainConfig`, the CLI parses one from `key=value` pairs, MLflow stores
its fields as params, and `TrainConfig.from_params` rebuilds it from a logged run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import typing
from dataclasses import dataclass
from typing import Any, Mapping

from cnnkit.errors import InputError

NORMALIZATIONS = ("none", "scale", "standardize")
PREFILTERS = ("none", "sharpen", "blur", "edges", "blur_sharpen")
FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "plateau", "cyclic", "one_cycle", "cosine")
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run. The same config (seed included) reproduces the run."""

    # data
    dataset: str = "digits"
    dataset_path: str = ""  # file, folder or zip for the csv and folder datasets
    image_size: int = 0  # side images are padded and resized to (folder dataset); 0 = loader default
    val_fraction: float = 0.1  # of the training pool
    test_fraction: float = 0.2  # of all data, for datasets without an official test split
    train_limit: int = 0  # keep at most this many training images (stratified); 0 = all
    # model
    arch: str = "kaggle_mnist_cnn"
    activation: str | None = None  # None = the architecture's own
    batch_norm: bool | None = None
    dropout_scale: float | None = None  # multiplies the architecture's dropout rates
    width: float | None = None  # multiplies filters and hidden units
    # inputs and augmentation (layers inside the model)
    normalization: str = "scale"
    prefilter: str = "none"
    flip: str = "none"
    rotation: float = 0.0  # degrees, both directions
    zoom: float = 0.0  # fraction, both directions
    translate: float = 0.0  # fraction of height/width, both directions
    pad_crop: int = 0  # pixels: pad then crop back at a random offset
    test_time_flip: bool = False  # test predictions average the image and its mirror image
    # optimisation
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd and rmsprop
    weight_decay: float = 1e-4  # adamw
    label_smoothing: float = 0.0
    schedule: str = "constant"
    max_lr: float = 6e-3  # peak of cyclic and one-cycle schedules
    cyclic_mode: str = "triangular"
    cycle_epochs: float = 2.0  # half a cycle (Smith's step_size), in epochs
    cyclic_gamma: float = 0.99994  # exp_range decay per step
    plateau_monitor: str = "val_loss"
    plateau_factor: float = 0.3
    plateau_patience: int = 2
    min_lr: float = 1e-5  # floor for plateau and cosine
    early_stopping: int = 0  # patience in epochs; 0 = off
    ema_momentum: float = 0.0  # keep an exponential moving average of the weights and finish with it; 0 = off
    batch_size: int = 64
    epochs: int = 5
    seed: int = 0
    # speed
    precision: str = "float32"  # or mixed: bfloat16/float16 compute, float32 weights and output
    steps_per_execution: int = 1  # optimizer steps per call into the compiled train step

    def __post_init__(self) -> None:
        _validate(self)

    # ---- round trips -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        unknown = sorted(set(values) - set(field_names()))
        if unknown:
            raise InputError(f"Unknown setting(s): {', '.join(unknown)}. Known settings: {', '.join(field_names())}.")
        return cls(**{key: _coerce(key, value) for key, value in values.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"The config is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise InputError("The config JSON must be an object of settings.")
        return cls.from_dict(values)

    def to_params(self) -> dict[str, str]:
        """MLflow params: every field as a string; None becomes an empty string."""
        return {key: "" if value is None else str(value) for key, value in self.to_dict().items()}

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TrainConfig:
        """Rebuild from a run's params; params that are not config fields are ignored."""
        return cls.from_dict({key: value for key, value in params.items() if key in field_names()})

    def replace(self, **changes: Any) -> TrainConfig:
        return self.from_dict({**self.to_dict(), **changes})

    def with_settings(self, assignments: list[str]) -> TrainConfig:
        """Apply CLI-style `key=value` strings."""
        changes = {}
        for assignment in assignments:
            key, sep, value = assignment.partition("=")
            if not sep:
                raise InputError(f"'{assignment}' is not key=value.")
            changes[key.strip()] = value.strip()
        return self.replace(**changes)


def field_names() -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(TrainConfig))


@functools.cache  # get_type_hints evaluates every annotation: 1 s per Train page run when asked per field
def _field_kind(name: str) -> tuple[type, bool]:
    """The field's base type and whether it may be None."""
    kind = typing.get_type_hints(TrainConfig)[name]
    args = typing.get_args(kind)
    if not args:
        return kind, False
    return next(arg for arg in args if arg is not type(None)), type(None) in args


def _coerce(name: str, value: Any) -> Any:
    """Turn strings (CLI, MLflow params, form text) into the field's type."""
    kind, optional = _field_kind(name)
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "default"))):
        return None
    if not isinstance(value, str) or kind is str:
        return value.strip() if isinstance(value, str) else value
    text = value.strip()
    try:
        if kind is bool:
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        number = float(text)
        if kind is int:
            if not number.is_integer():
                raise ValueError
            return int(number)
        return number
    except ValueError:
        raise InputError(f"{name}: '{value}' is not a valid {kind.__name__}.", field=name) from None


def _has_type(value: Any, kind: type, optional: bool) -> bool:
    if value is None:
        return optional
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def _validate(cfg: TrainConfig) -> None:
    for name in field_names():
        kind, optional = _field_kind(name)
        value = getattr(cfg, name)
        if not _has_type(value, kind, optional):
            raise InputError(f"{name}: expected a {'finite ' if kind is float else ''}{kind.__name__}, got {value!r}.", field=name)

    from cnnkit.architectures import ACTIVATIONS, ARCHITECTURES
    from cnnkit.datasets import DATASETS

    _choice("dataset", cfg.dataset, tuple(DATASETS))
    _choice("arch", cfg.arch, tuple(ARCHITECTURES))
    if cfg.activation is not None:
        _choice("activation", cfg.activation, ACTIVATIONS)
    _choice("normalization", cfg.normalization, NORMALIZATIONS)
    _choice("prefilter", cfg.prefilter, PREFILTERS)
    _choice("flip", cfg.flip, FLIPS)
    _choice("optimizer", cfg.optimizer, OPTIMIZERS)
    _choice("schedule", cfg.schedule, SCHEDULES)
    _choice("cyclic_mode", cfg.cyclic_mode, CYCLIC_MODES)
    _choice("plateau_monitor", cfg.plateau_monitor, MONITORS)
    _choice("precision", cfg.precision, PRECISIONS)

    if DATASETS[cfg.dataset].needs_path and not cfg.dataset_path:
        raise InputError(f"dataset_path: the '{cfg.dataset}' dataset needs a file, folder or zip to load from.", field="dataset_path")
    _between("image_size", cfg.image_size, 0, 1024)
    if 0 < cfg.image_size < 8:
        raise InputError("image_size: use at least 8 pixels (or 0 for the loader's default).", field="image_size")
    _between("val_fraction", cfg.val_fraction, 0.0, 0.9)
    _between("test_fraction", cfg.test_fraction, 0.01, 0.9)
    _between("train_limit", cfg.train_limit, 0, 10**9)
    if cfg.dropout_scale is not None:
        _between("dropout_scale", cfg.dropout_scale, 0.0, 5.0)
    if cfg.width is not None:
        _between("width", cfg.width, 0.05, 8.0)
    _between("rotation", cfg.rotation, 0.0, 180.0)
    _between("zoom", cfg.zoom, 0.0, 0.9)
    _between("translate", cfg.translate, 0.0, 0.9)
    _between("pad_crop", cfg.pad_crop, 0, 64)
    _positive("learning_rate", cfg.learning_rate, upper=10.0)
    _between("momentum", cfg.momentum, 0.0, 0.999)
    _between("weight_decay", cfg.weight_decay, 0.0, 1.0)
    _between("label_smoothing", cfg.label_smoothing, 0.0, 0.5)
    _positive("max_lr", cfg.max_lr, upper=10.0)
    _positive("cycle_epochs", cfg.cycle_epochs, upper=1000.0)
    _between("cyclic_gamma", cfg.cyclic_gamma, 0.9, 1.0)
    _between("plateau_factor", cfg.plateau_factor, 0.01, 0.99)
    _between("plateau_patience", cfg.plateau_patience, 0, 1000)
    _positive("min_lr", cfg.min_lr, upper=10.0)
    _between("early_stopping", cfg.early_stopping, 0, 1000)
    if cfg.ema_momentum and not 0.5 <= cfg.ema_momentum <= 0.99999:
        raise InputError(f"ema_momentum: use 0 (off) or a value between 0.5 and 0.99999, got {cfg.ema_momentum:g}.",
                         field="ema_momentum")
    _between("steps_per_execution", cfg.steps_per_execution, 1, 10_000)
    _between("batch_size", cfg.batch_size, 1, 65536)
    _between("epochs", cfg.epochs, 1, 100_000)
    _between("seed", cfg.seed, 0, 2**31 - 1)

    if cfg.schedule in ("cyclic", "one_cycle") and cfg.max_lr <= cfg.learning_rate:
        raise InputError(
            f"max_lr: the {cfg.schedule} schedule climbs from learning_rate ({cfg.learning_rate:g}) "
            f"to max_lr, so max_lr must be larger (it is {cfg.max_lr:g}).",
            field="max_lr",
        )
    if cfg.schedule in ("plateau", "cosine") and cfg.min_lr >= cfg.learning_rate:
        raise InputError(f"min_lr: must be below learning_rate ({cfg.learning_rate:g}) for the {cfg.schedule} schedule.", field="min_lr")
    if cfg.val_fraction == 0:
        if cfg.schedule == "plateau" and cfg.plateau_monitor.startswith("val_"):
            raise InputError(
                f"plateau_monitor: '{cfg.plateau_monitor}' needs a validation set; "
                "set val_fraction above 0 or monitor 'loss'.",
                field="plateau_monitor",
            )
        if cfg.early_stopping:
            raise InputError("early_stopping: watches the validation loss, so val_fraction must be above 0.", field="early_stopping")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{name}: '{value}' is not one of {', '.join(choices)}.", field=name)


def _between(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InputError(f"{name}: must be between {low:g} and {high:g}, got {value:g}.", field=name)


def _positive(name: str, value: float, upper: float) -> None:
    if not 0 < value <= upper:
        raise InputError(f"{name}: must be above 0 and at most {upper:g}, got {value:g}.", field=name)


_DEFAULTS = {field.name: field.default for field in dataclasses.fields(TrainConfig)}
_FLIP_LABELS = {"horizontal": "flip", "vertical": "vflip", "horizontal_and_vertical": "hvflip"}
_NORMALIZATION_LABELS = {"none": "raw pixels", "standardize": "standardize"}  # "scale" is the default
_PRECISION_LABELS = {"mixed_bfloat16": "bf16", "mixed_float16": "fp16"}  # "float32" is the default


def describe_tricks(params: Mapping[str, str]) -> str:
    """A short summary of a run's tricks from its MLflow params, such as
    "adam 0.001 · cyclic · flip, rot 10°, zoom 0.1 · sharpen · smooth 0.1 · early stop 3 · bf16".

    Optimizer and learning rate always show; everything else only when it differs from the
    default. Missing or unreadable params count as defaults (older runs), and no `TrainConfig`
    is built, so it is cheap enough for every row of a runs table.
    """

    def text(key: str) -> str:
        value = (params.get(key) or "").strip()
        if _DEFAULTS[key] is None and value.lower() in ("none", "default"):  # as `_coerce` reads them
            value = ""
        return value or str(_DEFAULTS[key] or "")

    def number(key: str) -> float:
        try:
            return float(text(key))
        except ValueError:
            return float(_DEFAULTS[key] or 0)

    optimizer = f"{text('optimizer')} {number('learning_rate'):g}"
    if text("optimizer") in ("sgd", "rmsprop") and number("momentum") != _DEFAULTS["momentum"]:
        optimizer += f" momentum {number('momentum'):g}"
    if text("optimizer") == "adamw" and number("weight_decay") != _DEFAULTS["weight_decay"]:
        optimizer += f" wd {number('weight_decay'):g}"
    augmentation = [
        _FLIP_LABELS.get(text("flip"), ""),
        number("rotation") and f"rot {number('rotation'):g}°",
        number("zoom") and f"zoom {number('zoom'):g}",
        number("translate") and f"shift {number('translate'):g}",
        number("pad_crop") and f"crop {number('pad_crop'):g}px",
    ]
    model = [
        text("activation"),
        {"true": "batch norm", "false": "no batch norm"}.get(text("batch_norm").lower(), ""),
        text("dropout_scale") and f"dropout ×{number('dropout_scale'):g}",
        text("width") and f"width ×{number('width'):g}",
    ]
    parts = [
        optimizer,
        text("schedule") != "constant" and text("schedule").replace("_", "-"),
        ", ".join(filter(None, augmentation)),
        text("prefilter") != "none" and text("prefilter").replace("_", "+"),
        _NORMALIZATION_LABELS.get(text("normalization"), ""),
        number("label_smoothing") and f"smooth {number('label_smoothing'):g}",
        number("early_stopping") and f"early stop {number('early_stopping'):g}",
        number("ema_momentum") and f"EMA {number('ema_momentum'):g}",
        text("test_time_flip").lower() == "true" and "TTA flip",
        ", ".join(filter(None, model)),
        _PRECISION_LABELS.get(text("precision"), ""),
    ]
    return " · ".join(filter(None, parts))

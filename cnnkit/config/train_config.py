"""The one frozen, validated description of a training run.

The UI builds a `TrainConfig`, the CLI parses one from `key=value` pairs, MLflow stores
its fields as params, and `TrainConfig.from_params` rebuilds it from a logged run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import typing
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from cnnkit.errors import InputError
import cnnkit.config.relabelled_examples as relabelled_examples
from cnnkit.config.excluded_examples import example_id_list, excluded_count, excluded_param
from cnnkit.config.settings import SETTINGS, label, setting_error


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
    snapshot_every: int = 0  # keep the model and test probabilities every this many epochs and at the last; 0 = off
    dynamics_sample: int = 10_000  # training examples whose label probability is kept after every epoch; 0 = off
    # speed
    precision: str = "float32"  # or mixed: bfloat16/float16 compute, float32 weights and output
    steps_per_execution: int = 1  # optimizer steps per call into the compiled train step
    devices: int = 1  # data-parallel over this many local devices; 1 = one device
    # training examples left out by their stable ids (datasets.example_ids), after the split: each once, sorted
    exclude_examples: tuple[str, ...] = ()
    # training examples given another class (csv and folder datasets), `id,new_label` lines: each once, sorted
    relabel_examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if _texts(self.exclude_examples):
            object.__setattr__(self, "exclude_examples", tuple(sorted({i.strip() for i in self.exclude_examples})))
        if _texts(self.relabel_examples):
            object.__setattr__(self, "relabel_examples", relabelled_examples.relabel_lines(self.relabel_examples))
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
        """MLflow params: every field as a string; None becomes an empty string. The excluded examples'
        ids are no param (MLflow keeps at most 6,000 characters): their count and digest are
        (`excluded_param`), the ids an artifact the run logs beside them; the same for the relabelled
        examples' `id,new_label` lines."""
        params = {key: "" if value is None else str(value) for key, value in self.to_dict().items()}
        return {**params, **{name: excluded_param(getattr(self, name)) for name in LIST_SETTINGS}}

    @classmethod
    def from_params(cls, params: Mapping[str, str], excluded: tuple[str, ...] | list[str] | None = None,
                    relabelled: tuple[str, ...] | list[str] | None = None) -> TrainConfig:
        """Rebuild from a run's params; params that are not config fields are ignored. A run that excluded
        or relabelled examples needs their lines (`excluded` ids, `relabelled` `id,new_label` lines, from its
        artifacts), which must match its param's count and digest."""
        values = {key: value for key, value in params.items() if key in field_names()}
        given = {"exclude_examples": excluded, "relabel_examples": relabelled}
        recorded = {name: values.pop(name, "") for name in LIST_SETTINGS}
        for name in LIST_SETTINGS:
            if recorded[name] and given[name] is None:
                done, what = _LIST_WORDS[name]
                raise InputError(f"{label(name)}: the run {done} {recorded[name]}, but their {what} were not given.",
                                 field=name)
        cfg = cls.from_dict({**values, **{name: tuple(given[name] or ()) for name in LIST_SETTINGS}})
        for name in LIST_SETTINGS:
            found = excluded_param(getattr(cfg, name))
            if found != recorded[name]:
                raise InputError(f"{label(name)}: the {_LIST_WORDS[name][1]} found ({found or 'none'}) are not those the run "
                                 f"recorded ({recorded[name] or 'none'}).", field=name)
        return cfg

    def replace(self, **changes: Any) -> TrainConfig:
        return self.from_dict({**self.to_dict(), **changes})

    def with_settings(self, assignments: list[str]) -> TrainConfig:
        """Apply CLI-style `key=value` strings."""
        return self.replace(**parse_assignments(assignments))


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """CLI-style `key=value` strings as {key: value text}, to apply together with other settings
    (one validation of them all: `--dataset csv` alone is invalid without its path)."""
    changes = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise InputError(f"'{assignment}' is not key=value.")
        changes[key.strip()] = value.strip()
    return changes


_SEPARATORS = re.compile(r"[,\s]+")
_NEXT_ASSIGNMENT = re.compile(r"[,\s]+(?=[A-Za-z_]\w*\s*=)")  # the separator before the next `key=`


def split_list(text: str) -> list[str]:
    """A list a person typed: items separated by commas, spaces or both ("a, b", "a b", "a,b")."""
    return [item for item in _SEPARATORS.split(text) if item]


def assignments_from_text(text: str) -> dict[str, str]:
    """`key=value` settings a person typed, separated by commas, spaces or both ("epochs=1, flip=none",
    "epochs=1 flip=none"), as {key: value text}. A value runs to the next `key=`, so a path's spaces stay."""
    pieces = _NEXT_ASSIGNMENT.split(text.strip(", \t\n"))
    return parse_assignments([piece.strip(", \t\n") for piece in pieces if piece.strip(", \t\n")])


def field_names() -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(TrainConfig))


MAX_ID_CHARS = 1000  # an example id's length at most (a path inside a folder or zip)
LIST_SETTINGS = ("exclude_examples", "relabel_examples")  # lists of example lines: an artifact, their digest a param
_LIST_WORDS = {"exclude_examples": ("excluded", "ids"), "relabel_examples": ("relabelled", "id,new_label lines")}
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(TrainConfig)}


@functools.cache  # get_type_hints evaluates every annotation: 1 s per Train page run when asked per field
def _field_kind(name: str) -> tuple[type, bool]:
    """The field's base type and whether it may be None."""
    kind = typing.get_type_hints(TrainConfig)[name]
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple:  # a list of texts, such as example ids
        return tuple, False
    if not args:
        return kind, False
    return next(arg for arg in args if arg is not type(None)), type(None) in args


def is_optional(name: str) -> bool:
    """Whether the setting may be None, meaning "the architecture's own" (activation, width, ...)."""
    return _field_kind(name)[1]


_KIND_NAMES = {int: "whole number", float: "number", bool: "true or false", str: "text", tuple: "list of texts"}


def _coerce(name: str, value: Any) -> Any:
    """Turn strings (CLI, MLflow params, form text, URL query) into the field's type."""
    kind, optional = _field_kind(name)
    if kind is tuple and name == relabelled_examples.SETTING:
        return relabelled_examples.relabel_lines(value) if isinstance(value, str) or _texts(value) else value
    if kind is tuple:
        if isinstance(value, str):
            return example_id_list(value)
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            return tuple(sorted({item.strip() for item in value if item.strip()}))
        return value
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
        raise setting_error(name, f"'{value}' is not a valid {_KIND_NAMES[kind]}.") from None


def _texts(value: Any) -> bool:
    """Whether `value` is a list or tuple of texts."""
    return isinstance(value, (tuple, list)) and all(isinstance(item, str) for item in value)


def _has_type(value: Any, kind: type, optional: bool) -> bool:
    if value is None:
        return optional
    if isinstance(value, bool):
        return kind is bool
    if kind is tuple:
        return isinstance(value, tuple) and all(isinstance(item, str) for item in value)
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def _type_problem(name: str, value: Any) -> InputError | None:
    kind, optional = _field_kind(name)
    if _has_type(value, kind, optional):
        return None
    return setting_error(name, f"expected a {'finite ' if kind is float else ''}{_KIND_NAMES[kind]}, got {value!r}.")


def _validate(cfg: TrainConfig) -> None:
    values = {name: getattr(cfg, name) for name in field_names()}
    for name, value in values.items():
        problem = _type_problem(name, value)
        if problem:
            raise problem
    for problem in _value_problems(values):
        raise problem


def find_problems(values: Mapping[str, Any]) -> dict[str, InputError]:
    """Every problem of would-be settings (a form's values, text or typed), at most one per setting:
    field -> InputError. Empty exactly when `TrainConfig.from_dict(values)` would succeed (settings
    that are not fields of `TrainConfig` are left out).

    Missing settings take their defaults. A setting whose text is not of its type is checked no
    further, and the checks between settings see its default in its place.
    """
    found: dict[str, InputError] = {}
    typed = dict(_DEFAULTS)
    for name in field_names():
        if name not in values:
            continue
        try:
            value = _coerce(name, values[name])
        except InputError as error:
            found[name] = error
            continue
        problem = _type_problem(name, value)
        if problem:
            found[name] = problem
        else:
            typed[name] = value
    for problem in _value_problems(typed):
        found.setdefault(problem.field, problem)
    return found


def changed_settings(values: Mapping[str, Any]) -> dict[str, str]:
    """The settings that differ from their defaults, as text `settings_from_text` reads back,
    e.g. for a URL's query string."""
    return {name: value_text(value) for name, value in values.items() if name in _DEFAULTS and value != _DEFAULTS[name]}


def settings_from_text(texts: Mapping[str, str]) -> tuple[dict[str, Any], list[InputError]]:
    """The settings among `texts` (e.g. a URL's query parameters) in their types, and a problem for
    each one left out because its text is not of its type or its value is outside its declared
    bounds or choices (a form control could not show it). Anything that is not a setting is left out."""
    values, problems = {}, []
    for name in field_names():
        if name not in texts:
            continue
        try:
            value = _coerce(name, texts[name])
            problem = _type_problem(name, value)
            if problem is None and SETTINGS[name].problem(value):
                problem = setting_error(name, SETTINGS[name].problem(value))
        except InputError as error:
            problem = error
        if problem:
            problems.append(problem)
        else:
            values[name] = value
    return values, problems


def value_text(value: Any) -> str:
    """A setting's value as text that `--set`, a URL's query or a form reads back as that value."""
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, tuple):  # example ids: comma-separated, or a line each when one holds a comma
        return ("\n" if any("," in item for item in value) else ",").join(value)
    return str(value)


def significant(value: float, digits: int, scale: float | None = None) -> float:
    """`value` rounded to `digits` significant digits of `scale` (of the value itself when None):
    significant(0.00075019, 3) == 0.00075; significant(0.123456, 3, scale=0.04) == 0.1235."""
    scale = abs(value) if scale is None else abs(scale)
    return round(value, digits - 1 - math.floor(math.log10(scale))) if scale else value


def _value_problems(values: Mapping[str, Any]) -> Iterator[InputError]:
    """The problems of correctly typed values: each setting against its declaration
    (cnnkit/config/settings.py), then the rules between settings."""
    for name, setting in SETTINGS.items():
        detail = setting.problem(values[name])
        if detail:
            yield setting_error(name, detail)

    from cnnkit.datasets import DATASETS

    dataset = DATASETS.get(values["dataset"])
    if dataset is not None and dataset.needs_path and not values["dataset_path"]:
        yield setting_error("dataset_path", f"the '{values['dataset']}' dataset needs a file, folder or zip to load "
                                            "from: upload one or give its path.")
    schedule, rate = values["schedule"], values["learning_rate"]
    if schedule in ("cyclic", "one_cycle") and values["max_lr"] <= rate:
        yield setting_error("max_lr", f"the {schedule} schedule climbs from the {label('learning_rate')} "
                                      f"({rate:g}) to the {label('max_lr')}, so it must be larger (it is {values['max_lr']:g}).")
    if schedule in ("plateau", "cosine") and values["min_lr"] >= rate:
        yield setting_error("min_lr", f"must be below the {label('learning_rate')} ({rate:g}) for the {schedule} "
                                      f"schedule (it is {values['min_lr']:g}).")
    if values["devices"] > 0 and values["batch_size"] % values["devices"]:  # out of bounds: reported above
        yield setting_error("devices", f"the {label('batch_size')} ({values['batch_size']}) must split evenly among "
                                       f"the devices: use a {label('batch_size')} that is a multiple of {values['devices']}.")
    for example_id in values["exclude_examples"]:
        if not example_id or "\n" in example_id or "\r" in example_id or len(example_id) > MAX_ID_CHARS:
            yield setting_error("exclude_examples", f"{example_id[:40]!r} is not an example id: ids are one line of "
                                                    f"at most {MAX_ID_CHARS} characters.")
            break
    relabel_problem = relabelled_examples.problem(values["relabel_examples"], values["dataset"], MAX_ID_CHARS)
    if relabel_problem:
        yield setting_error("relabel_examples", relabel_problem)
    if values["val_fraction"] == 0:
        no_validation = f"needs a validation set; set the {label('val_fraction')} above 0"
        if schedule == "plateau" and values["plateau_monitor"].startswith("val_"):
            yield setting_error("plateau_monitor", f"'{values['plateau_monitor']}' {no_validation} or watch 'loss'.")
        if values["early_stopping"]:
            yield setting_error("early_stopping", f"watches the validation loss, so it {no_validation} or use 0 (off).")


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
    if text("optimizer") == "sgd" and number("momentum") != _DEFAULTS["momentum"]:
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


def describe_run(values: Mapping[str, Any]) -> str:
    """One line that tells runs apart: "mnist_cnn on mnist · 300 training images · 5 epochs · " and
    the `describe_tricks` summary. `values`: a run's MLflow params or a form's values (any type)."""
    params = {key: value if isinstance(value, str) else value_text(value) for key, value in values.items()}
    epochs = int(float(params.get("epochs") or _DEFAULTS["epochs"]))
    limit = int(float(params.get("train_limit") or 0))
    excluded = excluded_count(params.get("exclude_examples") or "")
    relabelled = excluded_count(params.get("relabel_examples") or "", relabelled_examples.relabel_lines)
    parts = [
        f"{params.get('arch') or _DEFAULTS['arch']} on {params.get('dataset') or _DEFAULTS['dataset']}",
        limit and f"{limit:,} training images",
        excluded and f"without {excluded:,} example{'s' * (excluded != 1)}",
        relabelled and f"{relabelled:,} relabelled",
        f"{epochs:,} epoch{'s' if epochs != 1 else ''}",
        describe_tricks(params),
    ]
    return " · ".join(filter(None, parts))

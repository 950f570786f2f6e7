"""Every run setting declared once: the label a person sees, its help, its bounds or choices, the
Train form tab it sits on and when it matters.

`TrainConfig` (cnnkit/config/train_config.py) holds the values and their types; validation takes its bounds,
choices and the labels its messages name from here, and the Train page builds its controls from
here. Nothing in this module imports Streamlit or Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cnnkit.errors import InputError

NORMALIZATIONS = ("none", "scale", "standardize")
PREFILTERS = ("none", "sharpen", "blur", "edges", "blur_sharpen")
FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "plateau", "cyclic", "one_cycle", "cosine")
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

TABS = {"data": "1 · Data", "model": "2 · Model", "tricks": "3 · Tricks", "optimiser": "4 · Optimiser"}

# The settings each learning-rate schedule reads (cnnkit.training.tricks.learning_rate, the plateau callback).
SCHEDULE_SETTINGS = {
    "constant": (),
    "plateau": ("plateau_monitor", "plateau_factor", "plateau_patience", "min_lr"),
    "cyclic": ("max_lr", "cyclic_mode", "cycle_epochs", "cyclic_gamma"),
    "one_cycle": ("max_lr", "min_lr"),
    "cosine": ("min_lr",),
}

Values = Mapping[str, Any]  # setting name -> value, as a form or a config holds them


def _datasets() -> tuple[str, ...]:
    # At call time: cnnkit.datasets.registry imports nothing of cnnkit, but importing it runs the package's
    # __init__, which registers the loaders, and their messages name settings from this module.
    from cnnkit.datasets import DATASETS

    return tuple(DATASETS)


def _architectures() -> tuple[str, ...]:
    from cnnkit.models import ARCHITECTURES

    return tuple(ARCHITECTURES)


def _activations() -> tuple[str, ...]:
    from cnnkit.models import ACTIVATIONS

    return ACTIVATIONS


def _needs_path(values: Values) -> bool:
    from cnnkit.datasets import DATASETS

    info = DATASETS.get(values["dataset"])
    return info is not None and info.needs_path


def _has_no_official_test_split(values: Values) -> bool:
    from cnnkit.datasets import DATASETS

    info = DATASETS.get(values["dataset"])
    return info is None or not info.has_official_test_split


def _schedule_uses(name: str) -> Callable[[Values], bool]:
    def used(values: Values) -> bool:
        if name == "cyclic_gamma" and values["cyclic_mode"] != "exp_range":
            return False
        return name in SCHEDULE_SETTINGS.get(values["schedule"], ())

    return used


@dataclass(frozen=True)
class Setting:
    """One `TrainConfig` field as a person meets it.

    `low`/`high` are inclusive bounds (`low` is excluded when `above_low`, for rates); `off` is a
    value allowed outside them that switches the setting off or to its default (0 for weight
    averaging). Number bounds have the field's type (0 for ints, 0.0 for floats) so form controls
    can take them as they are. `choices` is a tuple or, for registries, a function returning one.
    `used_when(values)` says whether the run reads the setting; a form hides an unused setting,
    or greys it out and appends `unused_note` to its help when there is one.
    """

    name: str
    label: str
    help: str
    tab: str  # a key of TABS
    control: str  # select, radio, slider, number, checkbox, text, ids (a text area of example ids) or pairs (id,value lines)
    hint: str = ""  # shown after the label on the form only, e.g. "0 = all"
    low: float | None = None
    high: float | None = None
    above_low: bool = False
    off: float | None = None
    step: float | None = None
    number_format: str | None = None
    choices: tuple | Callable[[], tuple] = ()
    used_when: Callable[[Values], bool] | None = None
    unused_note: str = ""

    @property
    def form_label(self) -> str:
        return f"{self.label} ({self.hint})" if self.hint else self.label

    def allowed(self) -> tuple:
        return self.choices() if callable(self.choices) else self.choices

    def is_used(self, values: Values) -> bool:
        return self.used_when is None or self.used_when(values)

    def problem(self, value: Any) -> str | None:
        """What is wrong with a value of the right type, for a person; None when it is fine."""
        if self.choices:
            allowed = self.allowed()
            if value is not None and value not in allowed:
                return f"'{value}' is not one of {', '.join(map(str, allowed))}."
            return None
        if self.low is None or value is None or value == self.off:
            return None
        low_ok = value > self.low if self.above_low else value >= self.low
        if low_ok and value <= self.high:
            return None
        if self.off is not None:
            return f"use {self.off:g} (off) or a value between {self.low:g} and {self.high:g}, got {value:g}."
        if self.above_low:
            return f"must be above {self.low:g} and at most {self.high:g}, got {value:g}."
        return f"must be between {self.low:g} and {self.high:g}, got {value:g}."


def _settings(*settings: Setting) -> dict[str, Setting]:
    return {setting.name: setting for setting in settings}


_SEED_MAX = 2**31 - 1
SETTINGS: dict[str, Setting] = _settings(
    # 1 · Data
    Setting("dataset", "Dataset", "Which images to learn from.", "data", "select", choices=_datasets),
    Setting("dataset_path", "Path on this machine", "A CSV file, a folder with one sub-folder per class, or a zip "
            "of such folders (or upload one above).", "data", "text", used_when=_needs_path),
    Setting("image_size", "Image side (pixels)", "Images are resized with padding to this square size.", "data",
            "number", hint="0 = 64", low=8, high=1024, off=0, used_when=lambda values: values["dataset"] == "folder"),
    Setting("val_fraction", "Validation share", "Share of the training images held out to watch overfitting "
            "(0 = no validation).", "data", "slider", low=0.0, high=0.9, step=0.01),
    Setting("test_fraction", "Test share", "Share of all images kept for the final test.", "data", "slider",
            low=0.01, high=0.9, step=0.01, used_when=_has_no_official_test_split,
            unused_note="Not used here: this dataset comes with its own official test images, which are used as they are."),
    Setting("train_limit", "Limit training images", "Train on a stratified subset of this many training images, for "
            "quick experiments. Validation and test keep all their images.", "data", "number", hint="0 = all",
            low=0, high=10**9, step=500),
    Setting("seed", "Seed", "Fixes the split, the initial weights and the augmentation.", "data", "number",
            low=0, high=_SEED_MAX, step=1),
    Setting("exclude_examples", "Exclude examples", "Train without these examples, named by their stable ids as the "
            "Data atlas and the label-issues CSV show them (e.g. train/123, 45, cats/felix.png): one per line or "
            "comma-separated. They leave the training split only, after the split is made, so validation and test "
            "stay exactly as without them.", "data", "ids", hint="one id per line or comma-separated"),
    Setting("relabel_examples", "Relabel examples", "Train with these training examples given another class, one "
            "per line as id,new_label (e.g. 45,7 or cats/felix.png,dogs): the id as Exclude examples takes it, a comma, "
            "then the class name. For the csv and folder datasets: the run writes a corrected copy of the file or "
            "folder beside cnnkit's cache and never changes the original. Only training examples can be relabelled; "
            "the split is made with the original labels, so validation and test stay exactly as without it. An id "
            "also in Exclude examples is left out.", "data",
            "pairs", hint="id,new_label per line"),
    # 2 · Model
    Setting("arch", "Architecture", "The network to train.", "model", "select", choices=_architectures),
    Setting("activation", "Activation", "The non-linearity after each conv and hidden dense layer.", "model",
            "select", choices=_activations),
    Setting("batch_norm", "Batch normalisation", "Normalise activations after each layer; trains faster and "
            "steadier.", "model", "select", choices=(True, False)),
    Setting("dropout_scale", "Dropout scale", "Multiplies every dropout rate of the network; 0 turns dropout off.",
            "model", "number", hint="empty = default", low=0.0, high=5.0, step=0.1),
    Setting("width", "Width multiplier", "Multiplies the number of filters and hidden units.", "model", "number",
            hint="empty = default", low=0.05, high=8.0, step=0.25),
    # 3 · Tricks
    Setting("normalization", "Normalisation", "scale: pixels to 0–1; standardize: each image centred, unit std "
            "(seed 000); none: raw 0–255.", "tricks", "radio", choices=NORMALIZATIONS),
    Setting("prefilter", "Kernel pre-filter", "A fixed image filter applied to every input (seed 003).", "tricks",
            "select", choices=PREFILTERS),
    Setting("flip", "Random flips", "Mirror training images at random (not for digits!).", "tricks", "select",
            choices=FLIPS),
    Setting("rotation", "Random rotation (degrees)", "Rotate training images by up to ± this angle.", "tricks",
            "slider", low=0.0, high=180.0, step=1.0),
    Setting("zoom", "Random zoom", "Zoom training images in or out by up to this fraction.", "tricks", "slider",
            low=0.0, high=0.9, step=0.01),
    Setting("translate", "Random shift", "Shift training images by up to this fraction of their size.", "tricks",
            "slider", low=0.0, high=0.9, step=0.01),
    Setting("pad_crop", "Pad and crop (pixels)", "Pad by this many pixels and crop back at a random offset.",
            "tricks", "number", low=0, high=64),
    Setting("label_smoothing", "Label smoothing", "Soften the one-hot targets so the net is less over-confident.",
            "tricks", "slider", low=0.0, high=0.5, step=0.01),
    Setting("test_time_flip", "Test-time flip", "Test predictions average each image and its mirror image (for "
            "pictures that may be mirrored, not digits).", "tricks", "checkbox"),
    # 4 · Optimiser
    Setting("optimizer", "Optimizer", "sgd: plain or momentum SGD; rmsprop/adam: adaptive steps; adamw: Adam with "
            "decoupled weight decay.", "optimiser", "select", choices=OPTIMIZERS),
    Setting("learning_rate", "Learning rate", "Step size; the starting rate for schedules.", "optimiser", "number",
            low=0.0, high=10.0, above_low=True, step=1e-4, number_format="%g"),
    Setting("momentum", "Momentum", "Keeps part of the previous step's direction (SGD only).", "optimiser", "number",
            low=0.0, high=0.999, step=0.05, used_when=lambda values: values["optimizer"] == "sgd"),
    Setting("weight_decay", "Weight decay", "Shrinks weights a little every step (AdamW only).", "optimiser",
            "number", low=0.0, high=1.0, step=1e-4, number_format="%g",
            used_when=lambda values: values["optimizer"] == "adamw"),
    Setting("batch_size", "Batch size", "Images per optimizer step.", "optimiser", "number", low=1, high=65536),
    Setting("epochs", "Epochs", "Passes over the training set.", "optimiser", "number", low=1, high=100_000),
    Setting("early_stopping", "Early stopping patience", "Stop after this many epochs without a better validation "
            "loss, keeping the best weights.", "optimiser", "number", hint="0 = off", low=0, high=1000),
    Setting("ema_momentum", "Weight averaging", "Keep an exponential moving average of the weights and finish "
            "with it (0.99–0.9999).", "optimiser", "number", hint="EMA momentum, 0 = off", low=0.5, high=0.99999, off=0.0,
            step=0.001, number_format="%g"),
    Setting("snapshot_every", "Snapshot every (epochs)", "Keep the model (with its optimizer state) and the test "
            "set's probabilities every this many epochs and at the last one, to rewind Inspect and Compare to an "
            "epoch or fork a new run from it. Each snapshot predicts the test set once more.", "optimiser", "number",
            hint="0 = off", low=1, high=100_000, off=0),
    Setting("dynamics_sample", "Training dynamics (examples)", "After every epoch, predict this many training "
            "examples (a sample fixed by the seed; all of them when there are fewer) and keep the probability of "
            "each one's label and the class predicted, for the Data atlas's data map. The default costs about 7 % "
            "of an MNIST epoch (benchmarks/training_dynamics.py).", "optimiser", "number", hint="0 = off", low=1, high=10**9, off=0, step=1000),
    Setting("precision", "Precision", "mixed_bfloat16 / mixed_float16 compute in 16 bits with float32 weights and "
            "output: up to ~1.6x faster at large batches on a GPU; float16 adds loss scaling. On a CPU bfloat16 "
            "runs about as fast as float32 and float16 about 12x slower (emulated).", "optimiser", "select",
            choices=PRECISIONS),
    Setting("steps_per_execution", "Steps per execution", "Optimizer steps per call into the compiled train step; "
            "more can help small models on a GPU. Batch losses are then logged per execution.", "optimiser", "number",
            low=1, high=10_000),
    Setting("devices", "Devices", "Train data-parallel on this many of the server's GPUs (its CPUs when it has none): "
            "the model is copied to each and every batch is split evenly among them.", "optimiser", "number",
            hint="1 = one device", low=1, high=64),
    Setting("schedule", "Learning-rate schedule", "constant; plateau: cut the rate when progress stalls (seeds "
            "001/002); cyclic: Smith's cyclical rates (seed 000); one_cycle; cosine decay.", "optimiser", "select",
            choices=SCHEDULES),
    Setting("max_lr", "Peak rate", "The highest rate the cyclic and one-cycle schedules reach.", "optimiser",
            "number", low=0.0, high=10.0, above_low=True, step=1e-3, number_format="%g",
            used_when=_schedule_uses("max_lr")),
    Setting("cyclic_mode", "Cyclic mode", "triangular: same cycle; triangular2: amplitude halves each cycle; "
            "exp_range: amplitude decays by gamma each step.", "optimiser", "select", choices=CYCLIC_MODES,
            used_when=_schedule_uses("cyclic_mode")),
    Setting("cycle_epochs", "Half-cycle (epochs)", "Epochs from the low rate to the peak (Smith: 2–8).", "optimiser",
            "number", low=0.0, high=1000.0, above_low=True, step=0.5, used_when=_schedule_uses("cycle_epochs")),
    Setting("cyclic_gamma", "Amplitude decay (gamma)", "exp_range: the cycle's amplitude is multiplied by this every "
            "step.", "optimiser", "number", low=0.9, high=1.0, step=1e-5, number_format="%.5f",
            used_when=_schedule_uses("cyclic_gamma")),
    Setting("plateau_monitor", "Plateau metric", "The metric that must stop improving before the rate is cut.",
            "optimiser", "select", choices=MONITORS, used_when=_schedule_uses("plateau_monitor")),
    Setting("plateau_factor", "Plateau cut factor", "When the metric stalls, the rate is multiplied by this.",
            "optimiser", "number", low=0.01, high=0.99, step=0.05, used_when=_schedule_uses("plateau_factor")),
    Setting("plateau_patience", "Plateau patience (epochs)", "Epochs without improvement before the rate is cut.",
            "optimiser", "number", low=0, high=1000, used_when=_schedule_uses("plateau_patience")),
    Setting("min_lr", "Lowest rate", "The floor: plateau cuts stop here, cosine decays to it, one-cycle ends at it.",
            "optimiser", "number", low=0.0, high=10.0, above_low=True, step=1e-5, number_format="%g",
            used_when=_schedule_uses("min_lr")),
)


def label(name: str) -> str:
    """The on-screen label of a setting, or the name itself for anything else."""
    setting = SETTINGS.get(name)
    return setting.label if setting else name


def setting_error(name: str, detail: str) -> InputError:
    """An InputError about one setting: "<label>: <detail>", with `field` set for forms."""
    return InputError(f"{label(name)}: {detail}", field=name)


def command_line_message(error: InputError) -> str:
    """The message with the setting's field name after its label, for people typing `--set key=value`:
    "Peak rate (max_lr): must be above 0 ..."."""
    message = str(error)
    setting = SETTINGS.get(error.field or "")
    if setting is None or not message.startswith(f"{setting.label}:"):
        return message
    return f"{setting.label} ({setting.name}){message[len(setting.label):]}"


def settings_on(tab: str) -> list[Setting]:
    return [setting for setting in SETTINGS.values() if setting.tab == tab]


def problem_counts(fields) -> dict[str, int]:
    """How many of `fields` (settings with a problem) sit on each tab, for every tab in order."""
    counts = dict.fromkeys(TABS, 0)
    for field in fields:
        counts[SETTINGS[field].tab] += 1
    return counts

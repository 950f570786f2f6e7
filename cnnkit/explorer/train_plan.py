"""What the Train page shows about the form's settings before anything runs: the data they load,
what stops a launch, the network's layers, the augmented examples and the planned learning rate.
Plain values in and out; the page draws them."""

import math

import pandas as pd

from cnnkit.config import SETTINGS, TABS, TrainConfig, changed_settings, data_loading, find_problems, relabels
from cnnkit.datasets import DATASETS
from cnnkit.errors import InputError
from cnnkit.models import build_model, layer_table, resolve_knobs
from cnnkit.training import augment_samples, disk_budget, schedule_preview

# The settings that decide the data split, in `load_split`'s argument order.
DATA_SETTINGS = ("dataset", "dataset_path", "image_size", "val_fraction", "test_fraction", "seed", "train_limit",
                 "exclude_examples", "relabel_examples")
# The settings that decide the network, in `layers`' argument order after the data's shape.
NETWORK_SETTINGS = ("activation", "batch_norm", "dropout_scale", "width")
ADDRESS_IDS_CHARS = 2000  # excluded ids longer than this as text stay out of the address bar (about 200 ids)
AUGMENTED_CLASSES = 4  # the augmentation preview shows the first image of this many classes
AUGMENTED_COPIES = 5  # each beside this many augmented versions


def load_split(*settings):
    """The data split of the data settings given in DATA_SETTINGS order (hashable, for a cache)."""
    return data_loading.load_data(TrainConfig(**dict(zip(DATA_SETTINGS, settings))))


def form_data(values: dict, server_paths, load=load_split):
    """(the form's data split, None) or (None, the InputError that stops it from loading). A path is
    checked against `server_paths` before anything is read; `load` is `load_split` or a cached copy."""
    try:
        if values["dataset_path"]:
            server_paths.check(values["dataset_path"])
        return load(*(values[name] for name in DATA_SETTINGS)), None
    except InputError as error:
        return None, error


def form_problems(values: dict, data_problem: InputError | None) -> dict[str, InputError]:
    """Setting -> what stops a launch: the settings' own problems, and the data's, put on the file's
    setting (when the dataset reads one) unless the loader named another."""
    problems = find_problems(values)
    if data_problem is not None:
        at_fault = data_problem.field or ("dataset_path" if DATASETS[values["dataset"]].needs_path else "dataset")
        problems.setdefault(at_fault, data_problem)
    return problems


def problem_places(problems) -> list[tuple[str, str]]:
    """(label, tab title) of each setting with a problem, in the form's order."""
    return [(SETTINGS[field].label, TABS[SETTINGS[field].tab]) for field in sorted(problems, key=list(SETTINGS).index)]


def class_counts(data) -> pd.DataFrame:
    """Images per class in each split: columns split, class and count, every class in every split."""
    classes = range(data.num_classes)
    return pd.concat(
        pd.DataFrame({"split": split, "class": [data.class_names[i] for i in classes],
                      "count": pd.Series(labels).value_counts().reindex(classes, fill_value=0).values})
        for split, labels in (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test))
    )


def layers(arch: str, input_shape, num_classes: int, activation, batch_norm, dropout_scale, width):
    """(the network's layer table, its parameter count) for this data shape and these knobs."""
    model = build_model(arch, input_shape, num_classes, resolve_knobs(arch, activation, batch_norm, dropout_scale, width))
    return pd.DataFrame(layer_table(model)), model.count_params()


def augmentation_picks(data) -> list[int]:
    """The first training image of each of the first AUGMENTED_CLASSES classes."""
    return [int((data.y_train == c).argmax()) for c in range(min(AUGMENTED_CLASSES, data.num_classes))]


def augmented_examples(images, cfg_json: str):
    """Each image followed by AUGMENTED_COPIES augmented versions, as the config's training would make them."""
    return augment_samples(TrainConfig.from_json(cfg_json), images, copies=AUGMENTED_COPIES)


def planned_learning_rate(cfg: TrainConfig, train_images: int):
    """(steps per epoch, the learning rate planned at each step of the whole run)."""
    steps = math.ceil(train_images / cfg.batch_size)
    return steps, schedule_preview(cfg, steps)


def disk_note(cfg: TrainConfig, parameters: int, data) -> str:
    """What the run's snapshots will take on disk, in words."""
    return disk_budget(cfg, parameters, len(data.x_test), data.num_classes).describe()


def excluded_note(ids) -> str:
    """The count under the Exclude examples box: "37 examples excluded from training"."""
    return f"{len(ids):,} example{'s' * (len(ids) != 1)} excluded from training" if ids else "No example excluded."


def relabelled_note(lines: tuple[str, ...], excluded: tuple[str, ...] = ()) -> str:
    """The count under the Relabel examples box: "3 training examples relabelled", and how many of them Exclude
    examples leaves out."""
    if not lines:
        return "No example relabelled."
    left_out = len(set(relabels(lines)) & set(excluded))
    relabelled = len(lines) - left_out
    return (f"{relabelled:,} training example{'s' * (relabelled != 1)} relabelled"
            + (f" ({left_out:,} more also excluded: left out, so not relabelled)" if left_out else ""))


def address_settings(values: dict) -> tuple[dict[str, str], dict[str, str]]:
    """The form's non-default settings for the address bar, and, by setting, a note for the excluded or
    relabelled examples too long for an address (over ADDRESS_IDS_CHARS as text): they are left out of it,
    kept in this session only; the note goes under that setting's box alone."""
    wanted, notes = changed_settings(values), {}
    for setting, what in (("exclude_examples", "excluded ids"), ("relabel_examples", "relabelled examples")):
        if len(wanted.get(setting, "")) > ADDRESS_IDS_CHARS:
            del wanted[setting]
            notes[setting] = (f"The {len(values[setting]):,} {what} are too many for the address bar: this tab keeps "
                              "them, but a reload or a copied link starts without them.")
    return wanted, notes

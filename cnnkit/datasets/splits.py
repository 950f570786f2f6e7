"""A loaded dataset split three ways, the same way every time: stratified splits, the checks that
refuse a split a run can't learn from or be judged on, and the fingerprints that say two runs saw
the same data."""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

import cnnkit.datasets.example_ids as example_ids
from cnnkit.datasets.registry import DATASETS, RawData
from cnnkit.errors import InputError, SettingError


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset split three ways: uint8 images (N, H, W, C) with int64 class indices (N,), and each
    split's example ids in the same order (`example_ids`; numbered by position when not given)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    ids_train: np.ndarray | None = None
    ids_val: np.ndarray | None = None
    ids_test: np.ndarray | None = None
    relabelled: tuple[tuple[str, str, str], ...] = ()  # (id, class before, class after) of relabelled training examples

    def __post_init__(self) -> None:
        for split, labels in (("ids_train", self.y_train), ("ids_val", self.y_val), ("ids_test", self.y_test)):
            if getattr(self, split) is None:
                object.__setattr__(self, split, example_ids.numbered(len(labels)))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_counts(self) -> dict[str, int]:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}

    def fingerprint(self) -> str:
        """SHA-256 hex of class names and all six arrays: equal iff the data and its split are."""
        return _digest(self.class_names, self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)

    def test_fingerprint(self) -> str:
        """SHA-256 hex of class names and the test split only: equal for runs tested on the same
        images in the same order (an official test set, whatever the seed or training subset)."""
        return _digest(self.class_names, self.x_test, self.y_test)


def _digest(class_names: tuple[str, ...], *arrays: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps(class_names).encode())
    for array in arrays:
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def load_dataset(
    name: str,
    *,
    path: str | None = None,
    image_size: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    train_limit: int | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    relabel: Mapping[str, str] | None = None,
) -> Dataset:
    """Load a registered dataset and split it, the same way every time for the same arguments.

    The official test set is used when the dataset has one; otherwise `test_fraction` of all
    examples becomes the test set. Then `val_fraction` of the rest becomes the validation set.
    All splits are stratified. `train_limit` keeps a stratified subset of that many training
    examples, for quick runs; validation and test keep all theirs. `image_size` applies only to
    datasets whose images vary in size (folder). `exclude` names training examples by their stable ids
    (`example_ids`) to leave out after all that, so validation and test are exactly those of the same
    arguments without it; an id that is no training example here is refused, naming where it is. `relabel`
    ({id: class name}) gives training examples another class, likewise after the split (which the original
    labels decide) and refused likewise, except an id `exclude` also names, which is left out; the Dataset's
    `relabelled` says what changed.

    A split that cannot serve its purpose is refused with a SettingError naming the argument to
    change: training or test images fewer than classes, or a validation share that holds out
    nothing. `cnnkit.config.data_loading.split_warnings` names the weaker
    ones that still train.
    """
    if name not in DATASETS:
        raise InputError(f"Unknown dataset '{name}'. Known datasets: {', '.join(DATASETS)}.", field="dataset")
    info = DATASETS[name]
    if not 0 <= val_fraction < 1:
        raise SettingError("val_fraction", f"must be at least 0 and below 1, not {val_fraction}.")
    if not 0 < test_fraction < 1:
        raise SettingError("test_fraction", f"must be above 0 and below 1, not {test_fraction}.")
    if train_limit is not None and train_limit < 1:
        raise SettingError("train_limit", f"must be a positive number of training images, not {train_limit}.")
    if info.needs_path and not path:
        raise SettingError("dataset_path", f"the '{name}' dataset needs a path: {info.description}.")

    raw = info.loader(path, image_size)
    _check_labels(raw, name)
    official_test = raw.x_test is not None
    ids = raw.ids if raw.ids is not None else example_ids.numbered(len(raw.y), example_ids.TRAIN_FILE if official_test else "")
    rng = np.random.default_rng(seed)
    if official_test:
        x_pool, y_pool, ids_pool = raw.x, raw.y, ids
        x_test, y_test, ids_test = raw.x_test, raw.y_test, example_ids.numbered(len(raw.y_test), example_ids.TEST_FILE)
    else:
        pool, test = stratified_split(raw.y, test_fraction, rng)
        x_pool, y_pool, ids_pool = raw.x[pool], raw.y[pool], ids[pool]
        x_test, y_test, ids_test = raw.x[test], raw.y[test], ids[test]
    train, val = stratified_split(y_pool, val_fraction, rng)
    if train_limit is not None:
        train = _subsample(train, y_pool[train], train_limit, rng)
    if exclude:  # last, and drawing nothing from `rng`: the splits are those of a run without it
        train = _without(train, exclude, ids_pool, val, ids_test, y_pool, raw.class_names, kept_all=train_limit is None)
    excluded = set(exclude or ())
    relabel = {example_id: name for example_id, name in (relabel or {}).items() if example_id not in excluded}
    y_train, relabelled = _relabelled(train, relabel, ids_pool, val, ids_test, y_pool, raw.class_names,
                                      kept_all=train_limit is None)
    data = Dataset(name, x_pool[train], y_train, x_pool[val], y_pool[val], x_test, y_test, tuple(raw.class_names),
                   ids_pool[train], ids_pool[val], ids_test, relabelled)
    _check_split_sizes(data, len(raw.y), val_fraction, test_fraction, train_limit, official_test=official_test)
    return data


def _without(train: np.ndarray, exclude, ids_pool: np.ndarray, val: np.ndarray, ids_test: np.ndarray,
             y_pool: np.ndarray, class_names, kept_all: bool) -> np.ndarray:
    """`train` (positions in the pool) less the examples whose ids are in `exclude`. SettingError for an id
    that is not one of them (saying where it is) and for an exclusion that leaves a class no training example."""
    wanted = set(exclude)
    dropped = np.isin(ids_pool[train], list(wanted))
    _refuse_strays("exclude_examples", "excluded", wanted - set(ids_pool[train][dropped].tolist()), ids_pool, val,
                   ids_test, kept_all)
    before = np.bincount(y_pool[train], minlength=len(class_names))
    after = np.bincount(y_pool[train[~dropped]], minlength=len(class_names))
    if not after.sum():
        raise SettingError("exclude_examples", f"excludes all {len(train):,} training examples: nothing is left to train on.")
    emptied = [class_names[c] for c in np.flatnonzero((before > 0) & (after == 0))]
    if emptied:
        shown = ", ".join(map(str, emptied[:5])) + (", ..." if len(emptied) > 5 else "")
        raise SettingError("exclude_examples", f"excludes every training example of {len(emptied)} class"
                                               f"{'es' * (len(emptied) > 1)} ({shown}): the network could not learn "
                                               f"{'them' if len(emptied) > 1 else 'it'}. Keep at least one of each.")
    return train[~dropped]


def _refuse_strays(setting: str, done: str, strays: set[str], ids_pool: np.ndarray, val: np.ndarray,
                   ids_test: np.ndarray, kept_all: bool) -> None:
    """SettingError for `setting` when some of the ids it names (`strays`) are no training example,
    saying where the first is."""
    if not strays:
        return
    places = {"validation": set(ids_pool[val].tolist()), "test": set(ids_test.tolist())}
    first = sorted(strays)[0]
    split = next((split for split, ids in places.items() if first in ids), None)
    if split:
        where = f"is in the {split} split, which stays as it is: only training examples can be {done}"
    elif first in set(ids_pool.tolist()) and not kept_all:
        where = "is not among the training images the Limit training images setting keeps"
    else:
        where = "is not in this dataset"
    others = len(strays) - 1
    noun = "id that is no training example" if others == 1 else "ids that are no training examples"
    more = f" (and {others:,} more {noun})" if others else ""
    raise SettingError(setting, f"{first!r} {where}{more}.")


def _relabelled(train: np.ndarray, relabel: Mapping[str, str], ids_pool: np.ndarray, val: np.ndarray,
                ids_test: np.ndarray, y_pool: np.ndarray, class_names, kept_all: bool):
    """The training labels with the examples `relabel` names given their new class, and what changed as
    (id, class before, class after), in id order. SettingError for an id that is no training example and
    for a class name the dataset lacks."""
    y_train = y_pool[train].copy()
    if not relabel:
        return y_train, ()
    names = [str(name) for name in class_names]
    unknown = sorted(set(relabel.values()) - set(names))
    if unknown:
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise SettingError("relabel_examples", f"{unknown[0]!r} is no class of this dataset; its classes are {shown}.")
    where = {example_id: position for position, example_id in enumerate(ids_pool[train].tolist())}
    _refuse_strays("relabel_examples", "relabelled", set(relabel) - set(where), ids_pool, val, ids_test, kept_all)
    changed = []
    for example_id in sorted(relabel):
        before = names[y_train[where[example_id]]]
        y_train[where[example_id]] = names.index(relabel[example_id])
        changed.append((example_id, before, relabel[example_id]))
    return y_train, tuple(changed)


def count_images(count: int, kind: str) -> str:
    """"1 test image", "1,000 training images", "3 images"."""
    return " ".join(filter(None, (f"{count:,}", kind, "image" if count == 1 else "images")))


def _check_split_sizes(data: Dataset, total: int, val_fraction: float, test_fraction: float,
                       train_limit: int | None, official_test: bool) -> None:
    """Refuse splits a run can't learn from or be judged on (see `load_dataset`)."""
    counts, classes = data.split_counts(), data.num_classes
    if counts["train"] < classes:
        if train_limit is not None and train_limit < classes:
            raise SettingError("train_limit", f"{count_images(train_limit, 'training')} can't cover {classes} classes: "
                                               f"use at least {classes} (one per class), or 0 for all.")
        raise InputError(f"Dataset '{data.name}' leaves only {count_images(counts['train'], 'training')} for {classes} "
                         "classes; use more data or smaller shares for validation and test.", field="dataset")
    if counts["test"] < classes:
        if official_test:
            raise InputError(f"Dataset '{data.name}' has only {count_images(counts['test'], 'official test')} for "
                             f"{classes} classes; its files may be incomplete.", field="dataset")
        raise SettingError("test_fraction", f"{test_fraction:g} of {total:,} images keeps "
                                             f"{count_images(counts['test'], 'test')} for {classes} classes: test accuracy "
                                             "needs at least one per class. Use a larger share or more data.")
    if counts["validation"] == 0 and val_fraction > 0:
        raise SettingError("val_fraction", f"{val_fraction:g} of the training images holds out no image at all; "
                                            "use a larger share, 0 for no validation, or more data.")


def _check_labels(raw: RawData, name: str) -> None:
    if len(raw.y) == 0:
        raise InputError(f"Dataset '{name}' has no examples.")
    for y in (raw.y, raw.y_test):
        if y is not None and len(y) and (y.min() < 0 or y.max() >= len(raw.class_names)):
            raise InputError(
                f"Dataset '{name}' has labels outside 0..{len(raw.class_names) - 1} for its "
                f"{len(raw.class_names)} classes; its files may be corrupt."
            )


def stratified_split(
    y: np.ndarray, fraction: float, seed: int | np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split example indices into (keep, holdout), holding out `fraction` of every class.

    Class holdout sizes follow the class proportions and add up to round(fraction * len(y))
    (the leftover examples go to the largest remainders), except that no class gives up its
    last example. Both index arrays come in random order.
    """
    if not 0 <= fraction < 1:
        raise InputError(f"A split fraction must be at least 0 and below 1, not {fraction}.")
    rng = np.random.default_rng(seed)
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    held = np.zeros(len(y), dtype=bool)
    for code, quota in enumerate(_holdout_quotas(counts, fraction)):
        held[rng.permutation(np.flatnonzero(codes == code))[:quota]] = True
    return rng.permutation(np.flatnonzero(~held)), rng.permutation(np.flatnonzero(held))


def _holdout_quotas(counts: np.ndarray, fraction: float) -> np.ndarray:
    exact = counts * fraction
    quotas = np.minimum(np.floor(exact).astype(np.int64), counts - 1)
    leftover = round(fraction * counts.sum()) - quotas.sum()
    open_classes = np.flatnonzero(quotas < counts - 1)
    remainders = exact[open_classes] - quotas[open_classes]
    by_remainder = open_classes[np.argsort(-remainders, kind="stable")]
    quotas[by_remainder[: max(leftover, 0)]] += 1
    return quotas


def _subsample(indices: np.ndarray, y: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """A stratified `limit` of `indices` (whose labels are `y`), or all of them when they are fewer."""
    if len(y) <= limit:
        return indices
    _, chosen = stratified_split(y, limit / len(y), rng)
    return indices[chosen]

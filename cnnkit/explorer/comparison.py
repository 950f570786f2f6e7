"""Which views of several runs mean something side by side, and the mistakes their galleries show.

Curves and results compare any runs. Views that read an evaluation class by class (confusion
matrices, per-class scores, mistake galleries) need the same classes in the same order, or a
digit would be captioned "Coat". The difference matrix subtracts image counts cell by cell and
the galleries line up test index by test index, so those also need the same test images (equal
test-split fingerprints, see `RunStore.test_fingerprints`).

Pure logic on evaluations (anything with `class_names`, `confusion` and `mistakes` as in
`tracking.RunEvaluation`), keyed by the runs' display names; the Compare page only renders it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

VIEWS = ("curves", "results", "confusion", "difference", "per_class", "mistakes")
_CLASS_VIEWS = {  # view -> what goes wrong when the runs' classes differ
    "confusion": "their confusion matrices don't line up",
    "difference": "their confusion matrices can't be subtracted",
    "per_class": "their per-class scores don't line up",
    "mistakes": "their mistakes can't be filtered or captioned with one list of class names",
}
_CLASSES_SHOWN = 6  # a class list longer than this is written as its first few, "…", its last


@dataclass(frozen=True)
class Comparability:
    """Per run (display name): its class names in order, how many test images it was evaluated on,
    and the fingerprint of those images (`RunStore.test_fingerprints`; None: unknown)."""

    class_names: Mapping[str, tuple[str, ...]]
    test_images: Mapping[str, int]
    test_sets: Mapping[str, str | None]

    @property
    def same_classes(self) -> bool:
        return len(set(self.class_names.values())) <= 1

    def same_test_images(self, runs: Sequence[str] | None = None) -> bool:
        """Whether `runs` (default: all) were tested on the same images in the same order."""
        fingerprints = {self.test_sets[run] for run in (self.test_sets if runs is None else runs)}
        return None not in fingerprints and len(fingerprints) <= 1

    @property
    def aligned(self) -> bool:
        """Whether test index i is the same image for every run (so mistakes line up by index)."""
        return self.same_classes and self.same_test_images()

    def why_not(self, view: str, runs: Sequence[str] | None = None) -> str | None:
        """None when `view` (one of VIEWS) means something for these runs, else one line for a
        person saying why it is not shown. `runs` (for the difference: its A and B) narrows the
        test-image check to those runs."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
        if view in _CLASS_VIEWS and not self.same_classes:
            return (f"Not shown: these runs classify different classes, so {_CLASS_VIEWS[view]}. "
                    f"{self._class_lists()}. Curves and results compare fine.")
        if view == "difference" and len(self.class_names) < 2:
            return "No difference matrix: it needs two runs with an evaluation."
        if view == "difference" and not self.same_test_images(runs):
            return (f"No difference matrix: {'A and B' if runs else 'these runs'} saw different test sets "
                    f"({self._test_sizes(runs)} images), so subtracting their counts cell by cell would mislead. "
                    "Compare the row-normalised matrices above instead"
                    + (", or pick two runs tested on the same images." if runs and len(self.class_names) > 2 else "."))
        return None

    def difference_pair(self) -> tuple[int, int]:
        """Positions (in run order) of the A and B a difference starts with: the first two runs
        tested on the same images, else the first two."""
        runs = list(self.test_sets)
        pairs = [(i, j) for j in range(len(runs)) for i in range(j) if self.same_test_images((runs[i], runs[j]))]
        return pairs[0] if pairs else (0, 1)

    def images_note(self) -> str:
        """What the galleries show: the same test images lined up, or each run's own mistakes."""
        if self.aligned:
            return ("These runs saw the same test set: each gallery shows the same test images in the same places, "
                    "so you can see which run fixed which mistake (blue: right, red: wrong).")
        return (f"These runs saw different test sets ({self._test_sizes()} images): each gallery shows its own "
                "run's mistakes, so the galleries don't line up image by image.")

    def _class_lists(self) -> str:
        groups: dict[tuple[str, ...], list[str]] = {}
        for run, classes in self.class_names.items():
            groups.setdefault(tuple(classes), []).append(run)
        return "; ".join(f"{_joined(runs)}: {_class_list(classes)}" for classes, runs in groups.items())

    def _test_sizes(self, runs: Sequence[str] | None = None) -> str:
        return ", ".join(f"{run}: {self.test_images[run]:,}" for run in (self.test_images if runs is None else runs))


def comparability(evaluations: Mapping[str, object], test_sets: Mapping[str, str | None]) -> Comparability:
    """The Comparability of runs' evaluations (display name -> `tracking.RunEvaluation`) tested on
    `test_sets` (display name -> test fingerprint)."""
    return Comparability(
        class_names={run: tuple(str(c) for c in evaluation.class_names) for run, evaluation in evaluations.items()},
        test_images={run: int(np.asarray(evaluation.confusion).sum()) for run, evaluation in evaluations.items()},
        test_sets={run: test_sets.get(run) for run in evaluations},
    )


def _joined(runs: list[str]) -> str:
    return runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1]


def _class_list(classes: Sequence[str]) -> str:
    shown = list(classes) if len(classes) <= _CLASSES_SHOWN else [*classes[: _CLASSES_SHOWN - 2], "…", classes[-1]]
    return f"{', '.join(shown)} ({len(classes)} classes)"


def seed_groups(differing: pd.DataFrame, seed: str = "seed") -> dict[str, list[str]]:
    """Runs that differ only by `seed`, as one group each: `differing` is `tracking.differing_params`
    (index setting, one column per run name). Group name -> its runs, in column order; a group of
    several runs is named by its first run and "(n seeds)", a run on its own by its name."""
    settings = differing.drop(index=seed, errors="ignore")
    keyed: dict[tuple, list[str]] = {}
    for run in differing.columns:
        keyed.setdefault(tuple(settings[run]), []).append(run)
    return {(runs[0] if len(runs) == 1 else f"{runs[0]} ({len(runs)} seeds)"): runs
            for runs in keyed.values()}


def default_runs(runs: pd.DataFrame) -> list[str]:
    """The two runs Compare starts with, from `runs` (newest first, columns run_id and dataset, as
    `RunStore.runs_frame`): the newest and the newest before it on the same dataset, or the two
    newest when no earlier run shares its dataset."""
    ids = runs["run_id"].tolist()
    if len(ids) < 2:
        return ids
    same = runs.iloc[1:][runs["dataset"].iloc[1:] == runs["dataset"].iloc[0]]
    return [ids[0], same["run_id"].iloc[0] if len(same) else ids[1]]


# ---- mistake galleries ----------------------------------------------------------------------


@dataclass(frozen=True)
class Gallery:
    """One run's gallery: test indices to show, a caption and right/wrong for each."""

    indices: np.ndarray
    captions: list[str]
    correct: list[bool]


def mistake_indices(evaluations: Mapping[str, object], aligned: bool, true_class: str | None = None,
                    predicted_class: str | None = None, limit: int = 30) -> dict[str, np.ndarray]:
    """The test indices each run's gallery shows, at most `limit`, filtered by true and predicted
    class name (None: any), each run's classes looked up in its own class names.

    `aligned` (same test images): every run shows the same indices, those any run got wrong, in
    index order, so a column shows one image across runs. Otherwise each run shows its own mistakes,
    most confident first (the order of `mistakes`).
    """
    own = {run: _filtered(evaluation, true_class, predicted_class) for run, evaluation in evaluations.items()}
    if not aligned:
        return {run: table["index"].to_numpy()[:limit] for run, table in own.items()}
    shared = np.array(sorted(set().union(*(table["index"].tolist() for table in own.values()))), dtype=np.int64)
    return {run: shared[:limit] for run in evaluations}


def _filtered(evaluation, true_class: str | None, predicted_class: str | None) -> pd.DataFrame:
    table, names = evaluation.mistakes, [str(c) for c in evaluation.class_names]
    for column, name in (("true", true_class), ("predicted", predicted_class)):
        if name is not None:
            table = table[table[column] == names.index(name)] if name in names else table.iloc[:0]
    return table


def gallery(evaluation, indices: np.ndarray, y_test: np.ndarray) -> Gallery:
    """Captions ("true: 3\\npred: 8", in the run's own class names) for test `indices` of one run,
    whose test labels are `y_test`; an index that is not among its mistakes it got right."""
    names = [str(c) for c in evaluation.class_names]
    predicted_by_index = dict(zip(evaluation.mistakes["index"].tolist(), evaluation.mistakes["predicted"].tolist()))
    truths = [int(y_test[i]) for i in indices]
    predictions = [int(predicted_by_index.get(int(i), truth)) for i, truth in zip(indices, truths)]
    return Gallery(
        indices=np.asarray(indices, dtype=np.int64),
        captions=[f"true: {names[t]}\npred: {names[p]}" for t, p in zip(truths, predictions)],
        correct=[t == p for t, p in zip(truths, predictions)],
    )


# ---- a clicked confusion cell ---------------------------------------------------------------


def clicked_cell(points) -> tuple[str, str] | None:
    """(true, predicted) class names of the cell a click on a clickable confusion chart selected
    (`points`: the selection's points, each with the cell's `x` predicted and `y` true class), or
    None when nothing is selected."""
    if not points:
        return None
    return str(points[0]["y"]), str(points[0]["x"])


@dataclass(frozen=True)
class CellChange:
    """The test images behind one cell of a difference matrix: those only A puts there, those only
    B does, and those both do (test indices, in order)."""

    only_a: np.ndarray
    only_b: np.ndarray
    both: np.ndarray


def predictions(evaluation, y_test: np.ndarray) -> np.ndarray:
    """The class a run predicted for each test image: the true one, but for its mistakes."""
    predicted = np.asarray(y_test, dtype=np.int64).copy()
    predicted[evaluation.mistakes["index"].to_numpy(dtype=np.int64)] = evaluation.mistakes["predicted"].to_numpy()
    return predicted


def cell_change(a, b, y_test: np.ndarray, true_class: str, predicted_class: str) -> CellChange:
    """Which test images runs A and B (evaluations on the same test images `y_test`, one list of
    class names) put in the cell true `true_class`, predicted `predicted_class`."""
    names = [str(c) for c in a.class_names]
    true_index, predicted_index = names.index(true_class), names.index(predicted_class)
    y_test = np.asarray(y_test)
    in_a, in_b = ((y_test == true_index) & (predictions(run, y_test) == predicted_index) for run in (a, b))
    return CellChange(only_a=np.flatnonzero(in_a & ~in_b), only_b=np.flatnonzero(in_b & ~in_a),
                      both=np.flatnonzero(in_a & in_b))

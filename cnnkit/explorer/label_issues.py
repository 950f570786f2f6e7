"""Suspected label errors of a run's held-out splits, found by confident learning (cleanlab;
Northcutt et al. 2021) from out-of-sample probabilities only: the validation and test images the
network never trained on. The training split needs out-of-fold probabilities, which a single run does
not have: a label audit (`experiments.label_audit`, k fold runs) gives them, ranked here as split
`TRAINING` (`audit_issues`).

An example is named by its split and its position in that split (for an official test set, such as
MNIST's, the position is its index in the dataset's test file); `HeldOut.ids` takes stable example
ids where the dataset has them, and the table then carries them in its `id` column.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnkit.datasets import example_ids
from cnnkit.errors import InputError
from cnnkit.experiments import label_audit
from cnnkit.tracking import run_schema

SPLITS = ("validation", "test")
TRAINING = "training"  # a label audit's split: its positions are those of the audited config's training split
COLUMNS = ["rank", "split", "position", "given_class", "given_label", "suggested_class", "suggested_label", "score"]


@dataclass(frozen=True)
class HeldOut:
    """One held-out split: (images, classes) probabilities, given labels, optional stable ids."""

    split: str
    probabilities: np.ndarray
    labels: np.ndarray
    ids: np.ndarray | None = None


def held_out_of_run(store, run_id: str, data=None, predict: Callable[[np.ndarray], np.ndarray] | None = None,
                    ) -> list[HeldOut]:
    """The run's validation and test probabilities as its calibration step logged them; for a run
    trained before that, computed with `predict` (its model) on `data` (its split, `test_split_of_run`).
    InputError when the run has neither."""
    try:
        arrays = store.load_arrays_artifact(run_id, run_schema.CALIBRATION_PROBABILITIES)
    except InputError:
        if data is None or predict is None:
            raise InputError(f"Run {run_id} kept no validation and test probabilities (it was trained before runs "
                             "logged them) and its model and data are needed to compute them.") from None
        arrays = {"validation": predict(data.x_val) if len(data.x_val) else np.zeros((0, data.num_classes)),
                  "validation_labels": data.y_val, "test": predict(data.x_test), "test_labels": data.y_test}
    return [HeldOut(split, arrays[split], arrays[f"{split}_labels"]) for split in SPLITS]


def find_label_issues(held_out: list[HeldOut], class_names) -> pd.DataFrame:
    """Every suspected label error of the splits, most suspicious first (`COLUMNS`, plus `id` when the
    splits carry ids). Each split is judged on its own (confident learning's per-class thresholds are a
    split's); `score` is cleanlab's self-confidence label quality, the probability of the given label
    (0: surely wrong); the suggested label is the most probable other class."""
    found = [_issues_of(one, class_names) for one in held_out]
    table = pd.concat([frame for frame in found if len(frame)] or [_empty(held_out)], ignore_index=True)
    table = table.sort_values("score", kind="stable", ignore_index=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def audit_issues(found) -> pd.DataFrame:
    """A label audit's suspects (`found`: its `experiments.OutOfFold`) as `find_label_issues` ranks them, with ids."""
    return find_label_issues([HeldOut(TRAINING, found.probabilities, found.labels, found.ids)], found.class_names)


def stored_audit_issues(store, run_ids) -> tuple[pd.DataFrame, int]:
    """The suspects of the audit whose finished fold runs are `run_ids` (fold order), from the held-out predictions
    logged on them, and how many training examples it audited. InputError while a fold's are not logged yet."""
    found = label_audit.out_of_fold_of_runs(store, run_ids)
    return audit_issues(found), len(found.ids)


def complete_audit_issues(store, audit_id: str) -> tuple[pd.DataFrame, int]:
    """`stored_audit_issues` of audit `audit_id`'s finished fold runs; InputError naming a fold without one."""
    stored = label_audit.stored_audit(store, audit_id)
    if stored.missing:
        raise InputError(f"Label audit {stored.name}: fold {stored.missing[0] + 1} of {stored.folds} did not finish.")
    return stored_audit_issues(store, [stored.finished[fold] for fold in range(stored.folds)])


def audits_of(store, config) -> pd.DataFrame:
    """The label audits in `store` (`store.label_audits()`'s rows) of `config`'s training split: their fold runs
    have its settings, apart from the examples they leave out (`experiments.label_audit.is_audit_of`). An audit
    whose run's settings can't be read (a lost list artifact, params that no longer validate) is left out."""
    audits = store.label_audits()
    audits = audits[audits["dataset"] == config.dataset]
    return audits[[_is_readable_audit_of(store, config, run_id) for run_id in audits["a_run_id"]]]


def _is_readable_audit_of(store, config, run_id: str) -> bool:
    try:
        fold_config = store.config_of_run(run_id)
    except InputError:
        return False
    return label_audit.is_audit_of(config, fold_config)


def _issues_of(one: HeldOut, class_names) -> pd.DataFrame:
    import cleanlab.filter
    import cleanlab.rank

    labels = np.asarray(one.labels, dtype=np.int64)
    if len(labels) < 2 or len(np.unique(labels)) < 2:  # confident learning needs two classes to tell apart
        return _empty([one])
    probabilities = np.asarray(one.probabilities, dtype=np.float64)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)  # float16 rows sum to 1 only roughly
    with warnings.catch_warnings():  # cleanlab warns about classes a small split lacks
        warnings.simplefilter("ignore")
        # n_jobs=1: cleanlab's worker processes are forked, which hangs in a threaded server (Streamlit's)
        flagged = cleanlab.filter.find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence",
                                                    n_jobs=1)
        scores = cleanlab.rank.get_label_quality_scores(labels, probabilities, method="self_confidence")
    others = probabilities.copy()
    others[np.arange(len(labels)), labels] = -1
    suggested = others.argmax(axis=1)[flagged]
    table = pd.DataFrame({"split": one.split, "position": flagged, "given_class": labels[flagged],
                          "given_label": [class_names[c] for c in labels[flagged]], "suggested_class": suggested,
                          "suggested_label": [class_names[c] for c in suggested], "score": scores[flagged]})
    if one.ids is not None:
        table.insert(2, "id", np.asarray(one.ids)[flagged])
    return table


def _empty(held_out: list[HeldOut]) -> pd.DataFrame:
    with_ids = any(one.ids is not None for one in held_out)
    return pd.DataFrame(columns=COLUMNS[1:3] + ["id"] * with_ids + COLUMNS[3:])


def images_of(table: pd.DataFrame, data) -> np.ndarray:
    """The images of the table's rows, from `data` (the run's `Dataset`), in the table's order; an audit's by id
    (KeyError naming one the run's training split lacks)."""
    images = {TRAINING: "x_train", "validation": "x_val", "test": "x_test"}  # a split -> the Dataset's field
    if not len(table):
        return data.x_test[:0]
    if "id" in table and (table["split"] == TRAINING).all():  # an audit's: found by id, its split may not be the run's
        return data.x_train[example_ids.positions(table["id"].to_numpy(dtype=str), np.asarray(data.ids_train))]
    return np.stack([getattr(data, images[split])[position]
                     for split, position in zip(table["split"], table["position"])])


def captions(table: pd.DataFrame) -> list[str]:
    return [f"#{rank} {split} {position}\ngiven: {given}\nsuggested: {suggested} · {score:.3f}"
            for rank, split, position, given, suggested, score in
            zip(table["rank"], table["split"], table["position"], table["given_label"], table["suggested_label"],
                table["score"])]


def to_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode()


def read_csv(data: bytes) -> pd.DataFrame:
    """A table `to_csv` wrote, with its labels kept as text (a class named "7" stays "7")."""
    text = {c: str for c in ("split", "given_label", "suggested_label", "id")}
    return pd.read_csv(io.BytesIO(data), dtype=text, keep_default_na=False)

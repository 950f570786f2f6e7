"""The label audit: suspected label errors among a config's training examples, which one run can't judge
(its model has seen them). The training split is cut into k folds, stratified by label and drawn from the
config's seed; fold f's run is the config with fold f's examples excluded (setting exclude_examples), and its
model then predicts them. The k folds together give every training example an out-of-fold probability from
the one model that never trained on it: what confident learning (`explorer.label_issues`) ranks.

The fold runs go through a `JobManager` as an ablation's runs do (`AblationLaunch`: progress, cancel, queue,
any runner), tagged with the audit, their fold and the number of folds (`run_schema.LABEL_AUDIT_*`). Each
finished fold's predictions are logged on its run (`run_schema.LABEL_AUDIT_HELD_OUT`), so an audit can be
put together again from the store (`out_of_fold_of_runs`). No Streamlit here.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cnnkit.config import TrainConfig, load_data
from cnnkit.errors import InputError
from cnnkit.tracking import run_schema
import cnnkit.experiments.ablations as ablations

MIN_FOLDS, MAX_FOLDS = 2, 10
FOLDS_LABEL = "Folds"  # the setting's on-screen label (the command line's --folds)


def assign_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each example's fold (0 to `folds` - 1), stratified: each class's examples, in an order drawn from
    `seed`, are dealt out in turn, continuing where the previous class stopped, so every fold holds each
    class's share and the folds' sizes differ by at most one. InputError (naming Folds) for a class with a
    single example: its fold's run would have none of it to learn from."""
    labels = np.asarray(labels)
    if not MIN_FOLDS <= folds <= MAX_FOLDS:
        raise InputError(f"{FOLDS_LABEL}: use between {MIN_FOLDS} and {MAX_FOLDS}, got {folds}.")
    classes, counts = np.unique(labels, return_counts=True)
    if len(labels) < folds:
        raise InputError(f"{FOLDS_LABEL}: {folds} folds need at least {folds} training examples, got {len(labels)}.")
    if (counts < 2).any():
        raise InputError(f"{FOLDS_LABEL}: class {classes[counts < 2][0]} has a single training example; the fold "
                         "holding it would train without that class.")
    drawn = np.random.default_rng(seed).permutation(len(labels))
    order = drawn[np.argsort(labels[drawn], kind="stable")]  # class by class, each class in its drawn order
    assigned = np.empty(len(labels), dtype=np.int64)
    assigned[order] = np.arange(len(labels)) % folds
    return assigned


@dataclass(frozen=True)
class OutOfFold:
    """Every audited training example (in its training split's order): id, given label, out-of-fold class
    probabilities and the fold that held it out (0-based)."""

    ids: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    folds: np.ndarray
    class_names: tuple[str, ...]


def out_of_fold(parts: Sequence[dict[str, np.ndarray]]) -> OutOfFold:
    """The folds' held-out predictions (each a `held_out_arrays` dict, in fold order) as one `OutOfFold`, each
    example at its position in the training split. InputError when the folds don't cover the training split
    once each (a fold missing, or folds from different audits)."""
    if not parts:
        raise InputError(f"{FOLDS_LABEL}: the audit has no finished fold.")
    positions = np.concatenate([part["positions"] for part in parts])
    size = len(positions)
    if sorted(positions.tolist()) != list(range(size)):
        raise InputError(f"{FOLDS_LABEL}: these folds do not cover the training split once each.")
    order = np.argsort(positions)
    folds = np.concatenate([np.full(len(part["positions"]), fold) for fold, part in enumerate(parts)])
    return OutOfFold(np.concatenate([part["ids"] for part in parts])[order],
                     np.concatenate([part["labels"] for part in parts])[order],
                     np.concatenate([part["probabilities"] for part in parts])[order], folds[order],
                     tuple(str(name) for name in parts[0]["class_names"]))


def held_out_arrays(positions: np.ndarray, ids: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                    class_names: Sequence[str]) -> dict[str, np.ndarray]:
    """One fold's held-out predictions as its run logs them (`run_schema.LABEL_AUDIT_HELD_OUT`)."""
    return {"positions": np.asarray(positions, dtype=np.int64), "ids": np.asarray(ids, dtype=str),
            "labels": np.asarray(labels, dtype=np.int64), "probabilities": np.asarray(probabilities, dtype=np.float32),
            "class_names": np.asarray(class_names, dtype=str)}


@dataclass(frozen=True)
class LabelAudit:
    """A config's training split in `folds` folds (`assign_folds` of its labels and seed); `ids` and `fold_of`
    in the split's order. Built by `plan_label_audit`."""

    name: str
    base: TrainConfig
    ids: tuple[str, ...]
    fold_of: np.ndarray
    folds: int
    audit_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def held_out(self, fold: int) -> np.ndarray:
        """The positions (in the training split) of fold `fold`'s examples, 0-based fold."""
        return np.flatnonzero(self.fold_of == fold)

    def expand(self) -> list[ablations.PlannedRun]:
        """The fold runs, fold 1 first: the base config with the fold's examples excluded too (and the
        examples the base already excludes), its seed unchanged, so every fold has the same split."""
        runs = []
        for fold in range(self.folds):
            excluded = set(self.base.exclude_examples) | {self.ids[position] for position in self.held_out(fold)}
            tags = {run_schema.LABEL_AUDIT_ID_TAG: self.audit_id, run_schema.LABEL_AUDIT_NAME_TAG: self.name,
                    run_schema.LABEL_AUDIT_FOLD_TAG: str(fold + 1), run_schema.LABEL_AUDIT_FOLDS_TAG: str(self.folds)}
            runs.append(ablations.PlannedRun(self.base.replace(exclude_examples=tuple(sorted(excluded))),
                                             {"fold": str(fold + 1)}, self.base.seed,
                                             f"{self.name} · fold {fold + 1} of {self.folds}", tags))
        return runs


def plan_label_audit(base: TrainConfig, folds: int = 3, name: str | None = None, data=None) -> LabelAudit:
    """The audit of `base`'s training split (`data`: `base`'s loaded `Dataset`, else loaded here);
    InputError naming the setting at fault."""
    data = data if data is not None else load_data(base)
    return LabelAudit(name or f"label audit of {base.arch} on {base.dataset}", base,
                      tuple(str(example_id) for example_id in data.ids_train),
                      assign_folds(data.y_train, folds, base.seed), folds)


def predict_fold(audit: LabelAudit, fold: int, model, data, cancel: threading.Event | None = None,
                 ) -> dict[str, np.ndarray]:
    """Fold `fold`'s (0-based) held-out training examples predicted by `model` (its run's), as
    `held_out_arrays`; `data` is the audited config's `Dataset`."""
    from cnnkit.training import predict_test_images

    positions = audit.held_out(fold)
    config = audit.expand()[fold].config
    probabilities = predict_test_images(model, data.x_train[positions], config, cancel or threading.Event())
    return held_out_arrays(positions, data.ids_train[positions], data.y_train[positions], probabilities,
                           data.class_names)


class LabelAuditLaunch:
    """An audit's fold runs going through `manager` (`AblationLaunch`: its caps, queue, progress and cancel),
    and, once they have ended, `collect`: each finished fold's held-out predictions, logged on its run."""

    def __init__(self, audit: LabelAudit, manager, visitor: str | None = None, poll_s: float = 1.0):
        self.audit = audit
        self.runs = ablations.AblationLaunch(audit, manager, visitor, poll_s)

    def progress(self) -> ablations.AblationProgress:
        return self.runs.progress()

    def wait(self, timeout: float | None = None) -> ablations.AblationProgress:
        return self.runs.wait(timeout)

    def follow(self, say, every_s: float = 5.0) -> ablations.AblationProgress:
        return self.runs.follow(say, every_s)

    def cancel(self, visitor: str | None = None) -> None:
        self.runs.cancel(visitor)

    def collect(self, store, data=None, cancel: threading.Event | None = None) -> OutOfFold:
        """Predict each fold's held-out examples with its run's model, log them on the run and put the
        folds together. InputError naming the first fold that did not finish, before any prediction."""
        jobs = [self.runs.manager.find(job_id) for job_id in self.runs.job_ids]
        for fold in range(self.audit.folds):
            job = jobs[fold] if fold < len(jobs) else None
            if job is None or job.state != "finished" or job.run_id is None:
                state = job.state if job is not None else "not submitted"
                raise InputError(f"{FOLDS_LABEL}: fold {fold + 1} of {self.audit.folds} is {state}; the audit needs "
                                 "every fold's run finished.")
        data = data if data is not None else load_data(self.audit.base)
        parts = []
        for fold, job in enumerate(jobs):
            parts.append(predict_fold(self.audit, fold, store.load_model(job.run_id), data, cancel))
            store.logger(job.run_id).log_arrays(parts[-1], run_schema.LABEL_AUDIT_HELD_OUT)
        return out_of_fold(parts)


def out_of_fold_of_runs(store, run_ids: Sequence[str]) -> OutOfFold:
    """An audit put together again from its fold runs (fold order) as the store keeps them."""
    return out_of_fold([store.load_arrays_artifact(run_id, run_schema.LABEL_AUDIT_HELD_OUT) for run_id in run_ids])

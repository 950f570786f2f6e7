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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cnnkit.config import TrainConfig, load_data
from cnnkit.errors import InputError, one_line
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

    def fold_config(self, fold: int) -> TrainConfig:
        """Fold `fold`'s (0-based) run config: the base with the fold's examples excluded too (and the examples
        the base already excludes), its seed unchanged, so every fold has the same split."""
        excluded = set(self.base.exclude_examples) | {self.ids[position] for position in self.held_out(fold)}
        return self.base.replace(exclude_examples=tuple(sorted(excluded)))

    def fold_run(self, fold: int) -> ablations.PlannedRun:
        """Fold `fold`'s (0-based) run, tagged with the audit, its fold and the number of folds."""
        tags = {run_schema.LABEL_AUDIT_ID_TAG: self.audit_id, run_schema.LABEL_AUDIT_NAME_TAG: self.name,
                run_schema.LABEL_AUDIT_FOLD_TAG: str(fold + 1), run_schema.LABEL_AUDIT_FOLDS_TAG: str(self.folds)}
        return ablations.PlannedRun(self.fold_config(fold), {"fold": str(fold + 1)}, self.base.seed,
                                    f"{self.name} · fold {fold + 1} of {self.folds}", tags)

    def expand(self) -> list[ablations.PlannedRun]:
        """The fold runs, fold 1 first."""
        return [self.fold_run(fold) for fold in range(self.folds)]


@dataclass(frozen=True)
class _FoldRuns:
    """Some of an audit's fold runs (0-based `folds`) as a group `AblationLaunch` takes: those still to train."""

    audit: LabelAudit
    folds: tuple[int, ...]

    @property
    def name(self) -> str:
        return self.audit.name

    def expand(self) -> list[ablations.PlannedRun]:
        return [self.audit.fold_run(fold) for fold in self.folds]


def plan_label_audit(base: TrainConfig, folds: int = 3, name: str | None = None, data=None,
                     audit_id: str | None = None) -> LabelAudit:
    """The audit of `base`'s training split (`data`: `base`'s loaded `Dataset`, else loaded here; `audit_id`: an
    audit's own, to train its missing folds again); InputError naming the setting at fault."""
    data = data if data is not None else load_data(base)
    return LabelAudit(name or f"label audit of {base.arch} on {base.dataset}", base,
                      tuple(str(example_id) for example_id in data.ids_train),
                      assign_folds(data.y_train, folds, base.seed), folds, **({"audit_id": audit_id} if audit_id else {}))


def predict_fold(audit: LabelAudit, fold: int, model, data, cancel: threading.Event | None = None,
                 ) -> dict[str, np.ndarray]:
    """Fold `fold`'s (0-based) held-out training examples predicted by `model` (its run's), as
    `held_out_arrays`; `data` is the audited config's `Dataset`."""
    from cnnkit.training import predict_test_images

    positions = audit.held_out(fold)
    config = audit.fold_config(fold)
    probabilities = predict_test_images(model, data.x_train[positions], config, cancel or threading.Event())
    return held_out_arrays(positions, data.ids_train[positions], data.y_train[positions], probabilities,
                           data.class_names)


class LabelAuditLaunch:
    """An audit's fold runs going through `manager` (`AblationLaunch`: its caps, queue, progress and cancel),
    and, once they have ended, `collect`: each finished fold's held-out predictions, logged on its run.
    `finished_runs` (0-based fold -> run id): folds an earlier launch finished, not trained again. With `store`,
    a daemon thread collects as soon as every fold has finished (`collected`, or `collect_error`), so a page
    never waits for the predictions."""

    def __init__(self, audit: LabelAudit, manager, visitor: str | None = None, poll_s: float = 1.0,
                 finished_runs: dict[int, str] | None = None, store=None):
        self.audit, self.manager, self.visitor = audit, manager, visitor
        self.finished_runs = dict(finished_runs or {})
        self.to_train = tuple(fold for fold in range(audit.folds) if fold not in self.finished_runs)
        self.runs = (ablations.AblationLaunch(_FoldRuns(audit, self.to_train), manager, visitor, poll_s)
                     if self.to_train else None)
        self.collected: OutOfFold | None = None
        self.collect_error: str | None = None
        self._cancelled = threading.Event()
        self._collector = None
        if store is not None:
            self._collector = threading.Thread(target=self._collect_when_trained, args=(store,), daemon=True,
                                               name=f"cnnkit collect of {audit.name}")
            self._collector.start()

    def progress(self) -> ablations.AblationProgress:
        """The whole audit's: the folds finished before this launch count as finished."""
        runs = self.runs.progress() if self.runs else ablations.AblationProgress(0)
        return ablations.AblationProgress(self.audit.folds, runs.finished + len(self.finished_runs), runs.failed,
                                          runs.running, runs.waiting)

    def wait(self, timeout: float | None = None) -> ablations.AblationProgress:
        if self.runs:
            self.runs.wait(timeout)
        return self.progress()

    def follow(self, say, every_s: float = 5.0) -> ablations.AblationProgress:
        """`AblationLaunch.follow` of the runs this launch trains."""
        if self.runs:
            self.runs.follow(say, every_s)
        return self.progress()

    def may_be_cancelled_by(self, visitor: str | None) -> bool:
        """The job manager's rule for the fold jobs, launched under this launch's visitor: its own visitor, or
        anyone for the operator (None)."""
        return ablations.may_cancel(self.visitor, visitor)

    def cancel(self, visitor: str | None = None) -> None:
        """Stop the fold runs still training or queued, and a collect under way. InputError, and nothing
        changes, when `visitor` may not (`may_be_cancelled_by`)."""
        if not self.may_be_cancelled_by(visitor):
            raise InputError(f"{self.audit.name} was launched by another visitor: only they, or whoever runs this "
                             "server, can cancel it.")
        self._cancelled.set()
        if self.runs:
            self.runs.cancel(visitor)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def error(self) -> str | None:
        """Why the rest of the fold runs could not be submitted."""
        return self.runs.error if self.runs else None

    @property
    def collecting(self) -> bool:
        """Every fold has finished and their held-out examples are being predicted."""
        return bool(self._collector and self._collector.is_alive()) and not self.progress().active

    @property
    def busy(self) -> bool:
        """Its folds are training or queued, or their held-out examples are being predicted."""
        return self.progress().active or self.collecting

    def wait_collected(self, timeout: float | None = None) -> OutOfFold | None:
        """Block until the background collect has ended (or `timeout` seconds have passed); what it collected."""
        if self._collector:
            self._collector.join(timeout)
        return self.collected

    def fold_run_ids(self) -> list[str]:
        """Each fold's finished run (fold order). InputError naming the first fold that did not finish."""
        jobs = [self.manager.find(job_id) for job_id in self.runs.job_ids] if self.runs else []
        run_ids = dict(self.finished_runs)
        for position, fold in enumerate(self.to_train):
            job = jobs[position] if position < len(jobs) else None
            if job is None or job.state != "finished" or job.run_id is None:
                state = job.state if job is not None else "not submitted"
                raise InputError(f"{FOLDS_LABEL}: fold {fold + 1} of {self.audit.folds} is {state}; the audit needs "
                                 "every fold's run finished.")
            run_ids[fold] = job.run_id
        return [run_ids[fold] for fold in range(self.audit.folds)]

    def collect(self, store, data=None, cancel: threading.Event | None = None) -> OutOfFold:
        """Predict each fold's held-out examples with its run's model, log them on the run and put the
        folds together. InputError naming the first fold that did not finish, before any prediction."""
        run_ids = self.fold_run_ids()
        data = data if data is not None else load_data(self.audit.base)
        parts = []
        for fold, run_id in enumerate(run_ids):
            parts.append(predict_fold(self.audit, fold, store.load_model(run_id), data, cancel))
            store.logger(run_id).log_arrays(parts[-1], run_schema.LABEL_AUDIT_HELD_OUT)
        return out_of_fold(parts)

    def _collect_when_trained(self, store) -> None:
        if self.wait().finished < self.audit.folds or self.cancelled:
            return  # a fold is missing: StoredAudit.missing names it
        try:
            self.collected = self.collect(store, cancel=self._cancelled)
        except Exception as error:  # noqa: BLE001 - a thread has no caller to raise to: the page shows the line
            self.collect_error = "The predictions were cancelled." if self.cancelled else one_line(error)


def out_of_fold_of_runs(store, run_ids: Sequence[str]) -> OutOfFold:
    """An audit put together again from its fold runs (fold order) as the store keeps them."""
    return out_of_fold([store.load_arrays_artifact(run_id, run_schema.LABEL_AUDIT_HELD_OUT) for run_id in run_ids])


@dataclass(frozen=True)
class StoredAudit:
    """An audit as the store holds it: `finished`, each fold's (0-based) newest finished run; `missing`, the
    folds without one (failed, cancelled, never started); `tried`, a run of each fold tried, whatever its end."""

    audit_id: str
    name: str
    folds: int
    finished: dict[int, str]
    missing: tuple[int, ...]
    tried: dict[int, str]


def stored_audit(store, audit_id: str) -> StoredAudit:
    """Audit `audit_id` from its fold runs in `store` (`tracking.RunStore`); InputError when it has none."""
    runs = store.label_audit_runs(audit_id)
    if runs.empty:
        raise InputError(f"The store holds no run of label audit {audit_id}.")
    finished, tried = {}, {}
    for row in runs.itertuples():  # each fold's newest first
        tried.setdefault(row.fold - 1, row.run_id)
        if row.status == "FINISHED":
            finished.setdefault(row.fold - 1, row.run_id)
    folds = int(runs["folds"].iloc[0])
    return StoredAudit(audit_id, str(runs["label_audit"].iloc[0]), folds, finished,
                       tuple(fold for fold in range(folds) if fold not in finished), tried)


def audit_of_store(store, stored: StoredAudit, base_excluded: Sequence[str] = ()) -> LabelAudit:
    """The `LabelAudit` whose fold runs `stored` names, planned again from their settings. The examples its base
    excluded are those every fold run excluded when two or more folds have a run, else `base_excluded`. InputError
    when the runs are not the folds this gives (settings that load other data now)."""
    configs = {fold: store.config_of_run(run_id) for fold, run_id in stored.tried.items()}
    if len(configs) > 1:
        base_excluded = set.intersection(*(set(config.exclude_examples) for config in configs.values()))
    base = next(iter(configs.values())).replace(exclude_examples=tuple(sorted(base_excluded)))
    audit = plan_label_audit(base, stored.folds, stored.name, audit_id=stored.audit_id)
    if any(set(audit.fold_config(fold).exclude_examples) != set(config.exclude_examples)
           for fold, config in configs.items()):
        raise InputError(f"The runs of label audit {stored.name} are not the folds its settings give now; start a "
                         "new audit.")
    return audit


def resume_label_audit(store, audit_id: str, manager, visitor: str | None = None, base_excluded: Sequence[str] = (),
                       poll_s: float = 1.0) -> LabelAuditLaunch:
    """Audit `audit_id` completed: its folds without a finished run trained again (same audit id and tags), then
    every fold collected in the background (all of them finished already: only the collect)."""
    stored = stored_audit(store, audit_id)
    return LabelAuditLaunch(audit_of_store(store, stored, base_excluded), manager, visitor, poll_s,
                            finished_runs=stored.finished, store=store)


class AuditLaunches(dict):
    """Audit id -> its latest `LabelAuditLaunch`, for a server process, with a lock for `start`."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def start(self, audit_id: str, launch: Callable[[], LabelAuditLaunch]) -> bool:
        """Keep `launch()` as audit `audit_id`'s launch, unless its launch here is busy (two visitors' clicks on
        the same audit: one launch, not each fold trained twice). Whether it started."""
        with self._lock:
            current = self.get(audit_id)
            if current is not None and current.busy:
                return False
            self[audit_id] = launch()
            return True


def is_audit_of(config: TrainConfig, fold_config: TrainConfig) -> bool:
    """Whether a fold run's settings (`fold_config`) audit `config`'s training split: the same settings, apart
    from the examples excluded, of which the fold run's include `config`'s."""
    return (fold_config.replace(exclude_examples=()) == config.replace(exclude_examples=())
            and set(config.exclude_examples) <= set(fold_config.exclude_examples))

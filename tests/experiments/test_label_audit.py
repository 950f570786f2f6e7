"""The label audit (cnnkit.experiments.label_audit): stratified folds drawn from the seed, fold runs that exclude their
fold and are tagged with it, out-of-fold probabilities put together in the training split's order, labels flipped on
purpose found among training examples, the fold runs fed through a JobManager (fake trainer), and a fold's held-out
predictions logged on its run and read back from the store. A real training: tests/test_label_audit_command.py."""

import threading
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import flipped_labels
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.experiments import label_audit
from cnnkit.jobs import JobManager
from cnnkit.tracking import run_schema
from cnnkit.training import RunResult

TIMEOUT = 30
BASE = TrainConfig(dataset="digits", epochs=1, train_limit=300, seed=7)
NAMES = tuple(str(c) for c in range(10))


def test_folds_hold_each_class_evenly_and_every_example_once():
    labels = np.array([0] * 7 + [1] * 5 + [2] * 3)
    folds = label_audit.assign_folds(labels, 3, seed=1)
    assert sorted(np.bincount(folds).tolist()) == [5, 5, 5]
    for c, size in enumerate(np.bincount(labels)):  # 7 as 3+2+2, 5 as 2+2+1, 3 as 1+1+1
        assert sorted(np.bincount(folds[labels == c], minlength=3).tolist()) == sorted(
            [size // 3 + (k < size % 3) for k in range(3)])


def test_folds_are_drawn_from_the_seed():
    labels = np.repeat(np.arange(4), 25)
    same = label_audit.assign_folds(labels, 5, seed=3)
    assert np.array_equal(same, label_audit.assign_folds(labels, 5, seed=3))
    assert not np.array_equal(same, label_audit.assign_folds(labels, 5, seed=4))


@pytest.mark.parametrize("labels, folds, message", [
    (np.repeat(np.arange(3), 4), 1, "Folds: use between 2 and 10, got 1"),
    (np.repeat(np.arange(3), 4), 11, "Folds: use between 2 and 10, got 11"),
    (np.array([0, 0, 1, 1, 2]), 2, "Folds: class 2 has a single training example"),
    (np.array([0, 0, 1]), 5, "Folds: 5 folds need at least 5 training examples, got 3"),
])
def test_folds_that_cannot_be_drawn_are_named_by_their_label(labels, folds, message):
    with pytest.raises(InputError, match=message):
        label_audit.assign_folds(labels, folds, seed=0)


def test_each_fold_run_is_the_base_without_its_fold_tagged_with_the_audit_and_fold():
    from cnnkit.config import load_data

    excluded = str(load_data(BASE).ids_train[0])
    base = BASE.replace(exclude_examples=(excluded,))
    audit = label_audit.plan_label_audit(base, folds=3, name="audit")
    assert excluded not in audit.ids and len(audit.ids) == len(load_data(BASE).ids_train) - 1
    runs = audit.expand()
    assert [run.name for run in runs] == ["audit · fold 1 of 3", "audit · fold 2 of 3", "audit · fold 3 of 3"]
    held_out = [{audit.ids[p] for p in audit.held_out(fold)} for fold in range(3)]
    assert set().union(*held_out) == set(audit.ids) and sum(map(len, held_out)) == len(audit.ids)
    for fold, run in enumerate(runs):
        assert set(run.config.exclude_examples) == held_out[fold] | {excluded}
        assert run.config.replace(exclude_examples=()) == base.replace(exclude_examples=())  # seed, split: the same
        assert run.tags == {run_schema.LABEL_AUDIT_ID_TAG: audit.audit_id, run_schema.LABEL_AUDIT_NAME_TAG: "audit",
                            run_schema.LABEL_AUDIT_FOLD_TAG: str(fold + 1), run_schema.LABEL_AUDIT_FOLDS_TAG: "3"}


def part(positions, probabilities, names=NAMES):
    positions = np.asarray(positions)
    return label_audit.held_out_arrays(positions, [f"id{p}" for p in positions], positions % 2, probabilities, names)


def test_out_of_fold_puts_the_folds_back_in_the_training_splits_order():
    first, second = part([2, 0], np.array([[0.1, 0.9], [0.8, 0.2]])), part([1], np.array([[0.3, 0.7]]))
    found = label_audit.out_of_fold([first, second])
    assert found.ids.tolist() == ["id0", "id1", "id2"] and found.labels.tolist() == [0, 1, 0]
    assert np.allclose(found.probabilities, [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    assert found.folds.tolist() == [0, 1, 0] and found.class_names == NAMES


@pytest.mark.parametrize("parts", [[], [part([0, 1], np.eye(2)), part([1], np.eye(2)[:1])],
                                   [part([0], np.eye(2)[:1]), part([2], np.eye(2)[:1])]])
def test_folds_that_miss_or_repeat_an_example_are_refused(parts):
    with pytest.raises(InputError, match="Folds: "):
        label_audit.out_of_fold(parts)


def test_labels_flipped_among_training_examples_rank_at_the_top():
    """The audit's folds, out-of-fold assembly and ranking, with logistic regression in place of the fold runs."""
    from cnnkit.explorer import label_issues

    x, noisy, flipped = flipped_labels.flipped_digits()
    fold_of = label_audit.assign_folds(noisy, 3, seed=0)
    parts = []
    for fold in range(3):
        model = LogisticRegression(max_iter=2000).fit(x[fold_of != fold] / 16, noisy[fold_of != fold])
        positions = np.flatnonzero(fold_of == fold)
        parts.append(label_audit.held_out_arrays(positions, positions.astype(str), noisy[positions],
                                                 model.predict_proba(x[positions] / 16), NAMES))
    table = label_issues.audit_issues(label_audit.out_of_fold(parts))
    top = set(table["position"][:len(flipped)])
    precision_at_k = len(top & set(flipped)) / len(flipped)
    print(f"precision at k={len(flipped)}: {precision_at_k:.3f}")  # 0.809 when written (3 folds)
    assert precision_at_k >= 0.75
    assert (table["split"] == "training").all() and table["id"].tolist() == table["position"].astype(str).tolist()


class QuickTrainer:
    def __init__(self):
        self.lock, self.calls = threading.Lock(), []

    def __call__(self, cfg, *, tracking_uri, experiment, run_name, cancel, on_progress, on_run_created, tags=None,
                 **_):
        with self.lock:
            self.calls.append((run_name, cfg, tags))
            run_id = f"run-{len(self.calls)}"
        on_run_created(run_id)
        return RunResult(run_id, "FINISHED", {})


class FakeStore:
    """Models that answer each image with its first pixel's class; what is logged is kept."""

    def __init__(self):
        self.logged = {}

    def load_model(self, run_id):
        return SimpleNamespace(run_id=run_id)

    def logger(self, run_id):
        return SimpleNamespace(log_arrays=lambda arrays, name: self.logged.__setitem__((run_id, name), arrays))

    def load_arrays_artifact(self, run_id, name):
        return self.logged[(run_id, name)]


def test_the_folds_go_through_the_job_manager_and_each_logs_its_held_out_predictions(monkeypatch):
    from cnnkit.config import load_data

    data = load_data(BASE)
    predicted = {}

    def predict(model, images, cfg, cancel):
        predicted[model.run_id] = cfg
        return np.full((len(images), 10), 0.1)

    monkeypatch.setattr("cnnkit.training.predict_test_images", predict)
    trainer, store = QuickTrainer(), FakeStore()
    manager = JobManager(max_concurrent=1, trainer=trainer, recover_stale_runs=False)
    audit = label_audit.plan_label_audit(BASE, folds=3, name="audit", data=data)
    try:
        launch = label_audit.LabelAuditLaunch(audit, manager, poll_s=0.05)
        assert launch.wait(TIMEOUT).finished == 3
        found = launch.collect(store, data)
    finally:
        manager.shutdown(timeout=TIMEOUT)
    assert [name for name, _, _ in trainer.calls] == [run.name for run in audit.expand()]
    assert [tags[run_schema.LABEL_AUDIT_FOLD_TAG] for _, _, tags in trainer.calls] == ["1", "2", "3"]
    assert found.ids.tolist() == data.ids_train.tolist() and found.labels.tolist() == data.y_train.tolist()
    assert found.probabilities.shape == (len(data.y_train), 10) and found.class_names == data.class_names
    assert set(predicted) == {"run-1", "run-2", "run-3"}
    assert predicted["run-2"] == audit.expand()[1].config  # the fold run's own settings (test-time flip, devices)
    again = label_audit.out_of_fold_of_runs(store, ["run-1", "run-2", "run-3"])
    assert again.ids.tolist() == found.ids.tolist() and np.array_equal(again.folds, found.folds)
    logged = store.logged[("run-2", run_schema.LABEL_AUDIT_HELD_OUT)]
    assert logged["positions"].tolist() == audit.held_out(1).tolist()


def test_collecting_an_audit_whose_fold_did_not_finish_names_the_fold():
    class FailingTrainer(QuickTrainer):
        def __call__(self, cfg, **kwargs):
            result = super().__call__(cfg, **kwargs)
            return RunResult(result.run_id, "FAILED" if len(self.calls) == 2 else "FINISHED", {}, "broke")

    manager = JobManager(max_concurrent=1, trainer=FailingTrainer(), recover_stale_runs=False)
    audit = label_audit.plan_label_audit(BASE, folds=3)
    try:
        launch = label_audit.LabelAuditLaunch(audit, manager, poll_s=0.05)
        progress = launch.wait(TIMEOUT)
        assert (progress.finished, progress.failed) == (2, 1)
        with pytest.raises(InputError, match="Folds: fold 2 of 3 is failed"):
            launch.collect(FakeStore())
    finally:
        manager.shutdown(timeout=TIMEOUT)


def test_predicting_a_fold_builds_that_folds_settings_only(monkeypatch):
    """Each fold's config was got by building all k (each excluding its fold): O(k²n) over a collect."""
    from cnnkit.config import load_data

    data = load_data(BASE)
    audit = label_audit.plan_label_audit(BASE.replace(test_time_flip=True), folds=3, data=data)
    used = []
    monkeypatch.setattr("cnnkit.training.predict_test_images",
                        lambda model, images, cfg, cancel: used.append(cfg) or np.full((len(images), 10), 0.1))
    monkeypatch.setattr(label_audit.LabelAudit, "expand", lambda self: pytest.fail("every fold's run was built"))
    part = label_audit.predict_fold(audit, 2, None, data)
    assert used == [audit.fold_config(2)] and used[0].test_time_flip
    assert part["positions"].tolist() == audit.held_out(2).tolist()


class StoreTrainer(QuickTrainer):
    """Fold runs made in the store with their config and tags; the folds in `failing` (1-based) end FAILED."""

    def __init__(self, failing=()):
        super().__init__()
        self.failing = set(failing)

    def __call__(self, cfg, *, tracking_uri, run_name, on_run_created, tags=None, **_):
        from cnnkit.tracking import RunStore

        logger = RunStore(tracking_uri).start_run(cfg, run_name=run_name, tags=tags)
        with self.lock:
            self.calls.append((run_name, cfg, tags))
        on_run_created(logger.run_id)
        status = "FAILED" if int(tags[run_schema.LABEL_AUDIT_FOLD_TAG]) in self.failing else "FINISHED"
        logger.finish(status)
        return RunResult(logger.run_id, status, {}, "broke" if status == "FAILED" else None)


@pytest.fixture()
def models_answering_by_run(monkeypatch, run_store):
    """Fold models that are their run id, each fold's prediction a uniform row: what was predicted, by run."""
    predicted = []
    monkeypatch.setattr(type(run_store), "load_model", lambda store, run_id: SimpleNamespace(run_id=run_id))
    monkeypatch.setattr("cnnkit.training.predict_test_images", lambda model, images, cfg, cancel:
                        predicted.append(model.run_id) or np.full((len(images), 10), 0.1))
    return predicted


def test_a_failed_fold_is_named_in_the_store_and_trained_again_under_the_same_audit_then_collected(
        run_store, models_answering_by_run):
    from cnnkit.config import load_data

    excluded = str(load_data(BASE).ids_train[0])
    base = BASE.replace(exclude_examples=(excluded,))  # the base's own exclusion, found again from the fold runs
    data = load_data(base)
    audit = label_audit.plan_label_audit(base, folds=3, name="audit", data=data)
    trainer = StoreTrainer(failing={2})
    manager = JobManager(tracking_uri=run_store.tracking_uri, max_concurrent=1, trainer=trainer,
                         recover_stale_runs=False)
    try:
        first = label_audit.LabelAuditLaunch(audit, manager, poll_s=0.05, store=run_store)
        assert first.wait(TIMEOUT).describe() == "3 of 3 runs done · 1 failed or cancelled"
        assert first.wait_collected(TIMEOUT) is None and first.collect_error is None  # nothing to collect
        assert models_answering_by_run == []
        stored = label_audit.stored_audit(run_store, audit.audit_id)
        assert (stored.name, stored.folds, stored.missing, sorted(stored.finished)) == ("audit", 3, (1,), [0, 2])
        listed = run_store.label_audits()
        assert listed[["label_audit_id", "label_audit", "folds", "finished", "runs", "dataset"]].values.tolist() == [
            [audit.audit_id, "audit", 3, 2, 3, "digits"]]
        trainer.failing = set()
        again = label_audit.resume_label_audit(run_store, audit.audit_id, manager, poll_s=0.05)
        found = again.wait_collected(TIMEOUT)
        assert again.collect_error is None and found is not None
    finally:
        manager.shutdown(timeout=TIMEOUT)
    assert again.audit.audit_id == audit.audit_id and np.array_equal(again.audit.fold_of, audit.fold_of)
    assert len(trainer.calls) == 4 and trainer.calls[-1][0] == "audit · fold 2 of 3"
    assert trainer.calls[-1][1] == audit.fold_config(1) and trainer.calls[-1][2] == audit.fold_run(1).tags
    assert again.progress().describe() == "3 of 3 runs done"
    stored = label_audit.stored_audit(run_store, audit.audit_id)
    assert stored.missing == () and sorted(models_answering_by_run) == sorted(stored.finished.values())
    assert run_store.label_audits()[["finished", "runs"]].values.tolist() == [[3, 4]]
    back = label_audit.out_of_fold_of_runs(run_store, [stored.finished[fold] for fold in range(3)])
    assert back.ids.tolist() == data.ids_train.tolist() == found.ids.tolist() and excluded not in back.ids


def test_a_collect_that_breaks_in_the_background_leaves_its_reason_in_one_line(run_store, monkeypatch):
    from cnnkit.errors import InputError as Refused

    def unloadable(store, run_id):
        raise Refused("The run's model file does not match its recorded SHA-256.\nmore")

    monkeypatch.setattr(type(run_store), "load_model", unloadable)
    manager = JobManager(tracking_uri=run_store.tracking_uri, max_concurrent=1, trainer=StoreTrainer(),
                         recover_stale_runs=False)
    try:
        launch = label_audit.LabelAuditLaunch(label_audit.plan_label_audit(BASE, folds=2), manager, poll_s=0.05,
                                              store=run_store)
        assert launch.wait_collected(TIMEOUT) is None
    finally:
        manager.shutdown(timeout=TIMEOUT)
    assert launch.collect_error == "The run's model file does not match its recorded SHA-256."


def test_a_fold_runs_settings_audit_a_config_with_the_same_settings_and_fewer_exclusions():
    fold = BASE.replace(exclude_examples=("1", "2", "3"))
    assert label_audit.is_audit_of(BASE, fold) and label_audit.is_audit_of(BASE.replace(exclude_examples=("2",)), fold)
    assert not label_audit.is_audit_of(BASE.replace(exclude_examples=("9",)), fold)
    assert not label_audit.is_audit_of(BASE.replace(epochs=2), fold)


def test_a_cancel_refused_to_another_visitor_changes_nothing_and_the_audit_is_still_collected(monkeypatch):
    class HeldTrainer(QuickTrainer):
        released = threading.Event()

        def __call__(self, cfg, **kwargs):
            self.released.wait(TIMEOUT)
            return super().__call__(cfg, **kwargs)

    monkeypatch.setattr("cnnkit.training.predict_test_images", lambda model, images, cfg, cancel:
                        np.full((len(images), 10), 0.1))
    trainer = HeldTrainer()
    manager = JobManager(max_concurrent=1, trainer=trainer, recover_stale_runs=False)
    try:
        launch = label_audit.LabelAuditLaunch(label_audit.plan_label_audit(BASE, folds=2), manager, "address A",
                                              poll_s=0.05, store=FakeStore())
        with pytest.raises(InputError, match="launched by another visitor"):
            launch.cancel(visitor="address B")
        assert not launch.cancelled and not launch.runs.cancelled and launch.progress().active
        assert launch.may_be_cancelled_by("address A") and launch.may_be_cancelled_by(None)
        assert not launch.may_be_cancelled_by("address B")
        trainer.released.set()
        assert launch.wait_collected(TIMEOUT) is not None and launch.collect_error is None
    finally:
        trainer.released.set()
        manager.shutdown(timeout=TIMEOUT)
    assert launch.progress().describe() == "2 of 2 runs done" and len(trainer.calls) == 2


def test_two_visitors_starting_the_same_audit_at_once_make_one_launch():
    launches, entered, release = label_audit.AuditLaunches(), threading.Event(), threading.Event()
    busy, second_calls = SimpleNamespace(busy=True), []

    def first():
        entered.set()
        release.wait(TIMEOUT)  # a launch takes a while: the other click comes meanwhile
        return busy

    starts = {}
    one = threading.Thread(target=lambda: starts.__setitem__("one", launches.start("A", first)))
    one.start()
    assert entered.wait(TIMEOUT)
    other = threading.Thread(target=lambda: starts.__setitem__("other", launches.start(
        "A", lambda: second_calls.append(1) or busy)))
    other.start()
    other.join(0.5)  # unguarded, the other click would have launched by now
    release.set()
    one.join(TIMEOUT), other.join(TIMEOUT)
    assert starts == {"one": True, "other": False} and second_calls == [] and launches["A"] is busy
    launches["A"] = SimpleNamespace(busy=False)  # ended: started again
    assert launches.start("A", lambda: busy) and launches["A"] is busy and launches.start("B", lambda: busy)

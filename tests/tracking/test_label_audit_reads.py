"""Label audits read back (cnnkit.tracking.label_audit_reads): an audit's fold runs in fold order. Launching
audits is tested in tests/experiments/test_label_audit.py."""

from cnnkit.config import TrainConfig
from cnnkit.tracking import run_schema


def fold_run(run_store, audit_id: str, fold: int, folds: int = 3) -> str:
    tags = {run_schema.LABEL_AUDIT_ID_TAG: audit_id, run_schema.LABEL_AUDIT_NAME_TAG: f"audit {audit_id}",
            run_schema.LABEL_AUDIT_FOLD_TAG: str(fold), run_schema.LABEL_AUDIT_FOLDS_TAG: str(folds)}
    logger = run_store.start_run(TrainConfig(), tags=tags, run_name=f"fold {fold}")
    logger.finish("FINISHED")
    return logger.run_id


def test_an_audits_fold_runs_come_in_fold_order_whatever_order_they_were_made_in(run_store):
    third = fold_run(run_store, "a1", 3)
    first = fold_run(run_store, "a1", 1)
    fold_run(run_store, "a2", 1)
    second = fold_run(run_store, "a1", 2)
    runs = run_store.label_audit_runs("a1")
    assert runs["run_id"].tolist() == [first, second, third]
    assert runs["fold"].tolist() == [1, 2, 3] and runs["folds"].tolist() == [3, 3, 3]
    assert runs["run"].tolist() == ["fold 1", "fold 2", "fold 3"] and set(runs["status"]) == {"FINISHED"}


def test_an_unknown_or_malformed_audit_id_has_no_runs(run_store):
    fold_run(run_store, "a1", 1)
    assert run_store.label_audit_runs("no such audit").empty
    assert run_store.label_audit_runs("a1' OR '1").empty and run_store.label_audit_runs("a9").empty


def test_the_audits_are_listed_newest_first_with_their_folds_finished_and_runs(run_store):
    failed = fold_run(run_store, "a1", 1)
    run_store._client.set_terminated(failed, "FAILED")
    first = fold_run(run_store, "a1", 2)
    fold_run(run_store, "a1", 1)  # fold 1 again, finished this time
    fold_run(run_store, "a2", 1, folds=5)
    listed = run_store.label_audits()
    assert listed[["label_audit_id", "label_audit", "folds", "finished", "runs", "dataset"]].values.tolist() == [
        ["a2", "audit a2", 5, 1, 1, "digits"], ["a1", "audit a1", 3, 2, 3, "digits"]]
    assert listed["a_run_id"].iloc[1] == failed  # its first run
    import pandas as pd

    assert listed["started"].iloc[1] == pd.to_datetime(run_store._client.get_run(failed).info.start_time, unit="ms",
                                                       utc=True)
    assert run_store.label_audit_runs("a1")["label_audit"].tolist() == ["audit a1"] * 3
    assert first in run_store.label_audit_runs("a1")["run_id"].tolist()


def test_a_store_without_audits_lists_none(run_store):
    assert run_store.label_audits().empty and list(run_store.label_audits().columns)[:2] == ["label_audit_id",
                                                                                             "label_audit"]

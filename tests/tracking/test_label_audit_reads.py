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

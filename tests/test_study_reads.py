"""Studies read back (cnnkit.tracking.study_reads): a study's runs with their cells and seeds, and
the studies in the store. Launching studies is tested in tests/test_studies.py."""

import json

from cnnkit.config import TrainConfig
from cnnkit.tracking import run_schema


def study_run(run_store, study_id: str, cell: dict, seed: int, accuracy: float) -> str:
    tags = {run_schema.STUDY_ID_TAG: study_id, run_schema.STUDY_NAME_TAG: f"study {study_id}",
            run_schema.STUDY_CELL_TAG: json.dumps(cell), run_schema.STUDY_SEED_TAG: str(seed),
            run_schema.STUDY_SIZE_TAG: "4"}
    logger = run_store.start_run(TrainConfig(seed=seed), tags=tags)
    logger.log_metrics({run_schema.TEST_ACCURACY: accuracy}, step=1)
    logger.finish("FINISHED")
    return logger.run_id


def test_a_studys_runs_come_oldest_first_with_cell_seed_and_results(run_store):
    first = study_run(run_store, "s1", {"arch": "a"}, 0, 0.5)
    second = study_run(run_store, "s1", {"arch": "b"}, 1, 0.75)
    study_run(run_store, "s2", {"arch": "a"}, 0, 0.25)
    runs = run_store.study_runs("s1")
    assert runs["run_id"].tolist() == [first, second]
    assert runs["cell"].tolist() == [{"arch": "a"}, {"arch": "b"}] and runs["seed"].tolist() == [0, 1]
    assert runs[run_schema.TEST_ACCURACY].tolist() == [0.5, 0.75]
    assert run_store.study_runs("no such study").empty and run_store.study_runs("s1' OR '1").empty


def test_the_studies_in_the_store_newest_first_with_their_planned_and_stored_runs(run_store):
    study_run(run_store, "s1", {"arch": "a"}, 0, 0.5)
    study_run(run_store, "s2", {"arch": "a"}, 0, 0.5)
    study_run(run_store, "s2", {"arch": "a"}, 1, 0.5)
    studies = run_store.studies()
    assert studies[["study_id", "study", "size", "runs"]].values.tolist() == [["s2", "study s2", 4, 2],
                                                                              ["s1", "study s1", 4, 1]]

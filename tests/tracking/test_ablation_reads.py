"""Ablations read back (cnnkit.tracking.ablation_reads): an ablation's runs with their cells and
seeds, and the ablations in the store. Launching ablations is tested in tests/experiments/test_ablations.py."""

import json

from cnnkit.config import TrainConfig
from cnnkit.tracking import run_schema


def ablation_run(run_store, ablation_id: str, cell: dict, seed: int, accuracy: float) -> str:
    tags = {run_schema.ABLATION_ID_TAG: ablation_id, run_schema.ABLATION_NAME_TAG: f"ablation {ablation_id}",
            run_schema.ABLATION_CELL_TAG: json.dumps(cell), run_schema.ABLATION_SEED_TAG: str(seed),
            run_schema.ABLATION_SIZE_TAG: "4"}
    logger = run_store.start_run(TrainConfig(seed=seed), tags=tags)
    logger.log_metrics({run_schema.TEST_ACCURACY: accuracy}, step=1)
    logger.finish("FINISHED")
    return logger.run_id


def test_an_ablations_runs_come_oldest_first_with_cell_seed_and_results(run_store):
    first = ablation_run(run_store, "s1", {"arch": "a"}, 0, 0.5)
    second = ablation_run(run_store, "s1", {"arch": "b"}, 1, 0.75)
    ablation_run(run_store, "s2", {"arch": "a"}, 0, 0.25)
    runs = run_store.ablation_runs("s1")
    assert runs["run_id"].tolist() == [first, second]
    assert runs["cell"].tolist() == [{"arch": "a"}, {"arch": "b"}] and runs["seed"].tolist() == [0, 1]
    assert runs[run_schema.TEST_ACCURACY].tolist() == [0.5, 0.75]
    assert run_store.ablation_runs("no such ablation").empty and run_store.ablation_runs("s1' OR '1").empty


def test_the_ablations_in_the_store_newest_first_with_their_planned_and_stored_runs(run_store):
    ablation_run(run_store, "s1", {"arch": "a"}, 0, 0.5)
    ablation_run(run_store, "s2", {"arch": "a"}, 0, 0.5)
    ablation_run(run_store, "s2", {"arch": "a"}, 1, 0.5)
    ablations = run_store.ablations()
    assert ablations[["ablation_id", "ablation", "size", "runs"]].values.tolist() == [["s2", "ablation s2", 4, 2],
                                                                              ["s1", "ablation s1", 4, 1]]

"""Reading several runs to compare (cnnkit.tracking.comparison_reads): one search for many runs.
The reads of real trained runs are in tests/training/test_run_results.py."""

import pytest

from cheap_runs import finished_run
from cnnkit import InputError


def test_compare_reads_several_runs_in_one_search_deleted_ones_too(run_store, client, monkeypatch):
    made = [finished_run(run_store, name=f"run {i}") for i in range(3)]
    run_store.delete_run(made[1])  # still comparable, as with get_run
    searches, get_runs = [], []
    search_runs, get_run = client.search_runs, client.get_run
    monkeypatch.setattr(client, "search_runs", lambda *args, **kwargs: searches.append(args) or search_runs(*args, **kwargs))
    monkeypatch.setattr(client, "get_run", lambda run_id: get_runs.append(run_id) or get_run(run_id))
    table = run_store.results_table([made[2], made[1], made[0], made[2]])
    assert table["run"].tolist() == ["run 2", "run 1", "run 0"] and table["status"].tolist() == ["FINISHED"] * 3
    assert len(searches) == 1 and get_runs == []  # was a get_run per run, about as slow as a search of 20
    with pytest.raises(InputError, match="not found"):
        run_store.results_table([made[0], "f" * 32])
    assert run_store.results_table([]).empty


def test_runs_that_differ_by_their_excluded_examples_show_a_count_and_digest_not_the_ids():
    from cnnkit.config import TrainConfig
    from cnnkit.tracking import differing_params

    many = TrainConfig(exclude_examples=tuple(f"train/{i}" for i in range(3000))).to_params()
    few = TrainConfig(exclude_examples=("train/1", "train/7")).to_params()
    frame = differing_params({"many": many, "few": few, "none": TrainConfig().to_params(), "old": {"epochs": "5"}})
    row = frame.loc["exclude_examples"]
    assert row["many"].startswith("3,000 examples · sha256 ") and row["few"].startswith("2 examples · sha256 ")
    assert row["none"] == row["old"] == "none" and max(map(len, row)) < 40
    assert list(differing_params({"many": many, "few": few}).index) == ["exclude_examples"]


def test_runs_before_and_after_a_relabelling_show_its_count_and_digest_side_by_side():
    from cnnkit.config import TrainConfig, excluded_param
    from cnnkit.tracking import differing_params

    before = TrainConfig(dataset="csv", dataset_path="train.csv")
    after = before.replace(relabel_examples=("12,7", "40,1", "3,0"))
    frame = differing_params({"before": before.to_params(), "after": after.to_params()})
    assert list(frame.index) == ["relabel_examples"]
    digest = excluded_param(after.relabel_examples).rsplit(" ", 1)[1]
    assert frame.loc["relabel_examples"].to_dict() == {"before": "none", "after": f"3 examples · sha256 {digest[:12]}"}

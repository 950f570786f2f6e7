"""What the run pickers of Inspect, Compare and Classify offer (`run_pickers`), on a real store of
30 finished runs (and two that did not finish) with the newest 10 offered: older runs are found by
a search in the store, and a chosen run stays offered however old. Nothing is trained."""

import pytest
from cheap_runs import finished_runs

from cnnkit import InputError, tracking
from cnnkit.explorer import run_pickers
from cnnkit.config import TrainConfig

COUNT = 10


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(store, ids oldest first): runs "run 0" ... "run 29", then a FAILED and a KILLED one on top."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db"
    ids = finished_runs(uri, [f"run {i}" for i in range(30)])
    finished_runs(uri, ["failed on top"], status="FAILED")
    finished_runs(uri, ["killed on top"], status="KILLED")
    return tracking.RunStore(uri), ids


def offered(store, text: str = "", chosen=()) -> dict[str, str]:
    """run id -> label of what a picker offers."""
    runs = run_pickers.offered_runs(store, text, COUNT)
    return run_pickers.with_chosen(runs, chosen, lambda run_ids: run_pickers.finished_by_id(store, run_ids)).labels


def test_the_newest_finished_runs_are_offered_newest_first_and_older_ones_are_said_to_follow(store):
    store, ids = store
    runs = run_pickers.offered_runs(store, count=COUNT)
    assert list(runs.labels) == ids[:-COUNT - 1:-1]  # runs 29 ... 20: neither the failed nor the killed one
    assert runs.labels[ids[29]] == f"run 29 · {ids[29][:6]}"
    assert runs.more


def test_the_25th_newest_run_is_not_offered_but_is_found_by_name_and_by_the_start_of_its_id(store):
    store, ids = store
    old = ids[5]  # the 25th newest
    assert old not in offered(store)
    assert list(offered(store, "RUN 5")) == [old]  # any case; "run 5" is no part of another's name
    assert list(offered(store, old[:6])) == [old]
    assert list(offered(store, old)) == [old]


def test_a_search_finds_the_newest_matches_and_says_when_more_match(store):
    store, ids = store
    found = run_pickers.offered_runs(store, "run 1", COUNT)  # run 1 and runs 10 to 19
    assert list(found.labels) == [*ids[19:9:-1]] and found.more
    assert not run_pickers.offered_runs(store, "run 7", COUNT).more


def test_a_chosen_old_run_stays_offered_in_its_place_by_age(store):
    store, ids = store
    assert list(offered(store, chosen=[ids[3], None, ids[29]])) == [*ids[29:19:-1], ids[3]]
    assert list(offered(store, "run 7", chosen=[ids[3]])) == [ids[7], ids[3]]  # with a search too


def test_a_chosen_run_that_did_not_finish_or_is_gone_is_not_offered(store):
    store, ids = store
    running = tracking.RunStore(store.tracking_uri).start_run(TrainConfig(dataset="digits"))
    assert list(offered(store, chosen=[running.run_id, "0" * 32])) == ids[:-COUNT - 1:-1]
    running.finish("KILLED")


def test_the_look_up_is_not_asked_when_every_chosen_run_is_offered(store):
    store, ids = store
    runs = run_pickers.offered_runs(store, count=COUNT)

    def look_up(run_ids):
        raise AssertionError(f"looked up {run_ids}")

    assert run_pickers.with_chosen(runs, [ids[29], None], look_up) is runs


def test_the_filter_keeps_finished_runs_and_a_bad_tag_search_names_the_find_box():
    assert run_pickers.find_filter() == "attributes.status LIKE 'FINISHED'"
    assert run_pickers.find_filter("abcdef12") == "attributes.status LIKE 'FINISHED' AND attributes.run_id LIKE 'abcdef12%'"
    with pytest.raises(InputError, match=f"^{run_pickers.FIND_LABEL}: write a tag"):
        run_pickers.find_filter("a*b=c")

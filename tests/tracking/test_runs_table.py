"""The runs table (cnnkit.tracking.runs_table): runs as rows, a page at a time, by id."""

import gc
import math
import time

import pandas as pd
import pytest

from cheap_runs import finished_run, run_on_data
from cnnkit import InputError, tracking
from cnnkit.config import TrainConfig

RICH = TrainConfig(schedule="cyclic", flip="horizontal", rotation=10, zoom=0.1, prefilter="sharpen",
                   label_smoothing=0.1, early_stopping=3, epochs=4)


def test_runs_frame_lists_runs_newest_first_with_their_summary(run_store):
    first = finished_run(run_store, name="baseline")
    second = finished_run(run_store, RICH, val_accuracies=(0.6, 0.9, 0.85), test_accuracy=0.93)
    running = run_store.start_run(TrainConfig(dataset="mnist", arch="resnet_small")).run_id

    frame = run_store.runs_frame()

    assert tuple(frame.columns) == tracking.RUN_COLUMNS
    assert list(frame["run_id"]) == [running, second, first]
    assert list(frame["status"]) == ["RUNNING", "FINISHED", "FINISHED"]
    assert list(frame["name"]) == ["resnet_small on mnist", "kaggle_mnist_cnn on digits", "baseline"]
    assert list(frame["dataset"]) == ["mnist", "digits", "digits"]
    assert list(frame["epochs"]) == [5, 4, 5]
    row = frame.set_index("run_id").loc[second]
    assert row["tricks"] == "adam 0.001 · cyclic · flip, rot 10°, zoom 0.1 · sharpen · smooth 0.1 · early stop 3"
    assert row["test_accuracy"] == pytest.approx(0.93)
    assert row["val_accuracy"] == pytest.approx(0.85)  # the last epoch's, not the best
    assert math.isnan(frame.set_index("run_id").loc[running, "test_accuracy"])
    assert str(frame["start_time"].dt.tz) == "UTC"
    assert frame["start_time"].is_monotonic_decreasing


def test_runs_frame_durations_run_to_the_end_or_to_now(run_store, client):
    run_id = finished_run(run_store)
    running = run_store.start_run(TrainConfig()).run_id
    frame = run_store.runs_frame().set_index("run_id")
    now = time.time()
    info = client.get_run(run_id).info
    assert frame.loc[run_id, "duration_s"] == pytest.approx((info.end_time - info.start_time) / 1000)
    assert 0 <= frame.loc[running, "duration_s"] <= now - client.get_run(running).info.start_time / 1000


def test_runs_frame_puts_the_results_and_the_times_to_each_accuracy_right_after_the_name(run_store):
    reached = run_store.start_run(TrainConfig())
    reached.log_metrics({"val_accuracy": 0.96, "time_to_val_acc_90": 12.5, "time_to_val_acc_95": 40.0}, step=2)
    reached.finish("FINISHED")
    frame = run_store.runs_frame()
    assert list(frame.columns[1:9]) == ["name", "test_accuracy", "val_accuracy", "time_to_val_acc_90",
                                        "time_to_val_acc_95", "time_to_val_acc_98", "time_to_val_acc_99", "status"]
    row = frame.iloc[0]
    assert (row["time_to_val_acc_90"], row["time_to_val_acc_95"]) == (12.5, 40.0)
    assert math.isnan(row["time_to_val_acc_98"]) and math.isnan(row["time_to_val_acc_99"])  # never reached


def test_a_run_another_tool_wrote_shows_no_made_up_settings(run_store):
    """Before, its tricks read "adam 0.001": cnnkit's defaults for the params it lacks."""
    from mlflow import MlflowClient

    plain = MlflowClient(run_store.tracking_uri)  # another tool's own client, no cnnkit in between
    experiment = plain.get_experiment_by_name("cnnkit") or plain.get_experiment(plain.create_experiment("cnnkit"))
    other = plain.create_run(experiment.experiment_id, run_name="sklearn baseline").info.run_id
    for key, value in {"model": "LogisticRegression", "C": "0.5", "learning_rate": "0.1"}.items():
        plain.log_param(other, key, value)
    plain.log_metric(other, "test_accuracy", 0.9)
    plain.set_terminated(other)
    ours = finished_run(run_store)

    frame = run_store.runs_frame().set_index("run_id")
    assert frame.loc[other, ["dataset", "arch", "tricks"]].tolist() == ["—", "—", "—"]
    assert frame.loc[other, "epochs"] is pd.NA and frame.loc[other, "test_accuracy"] == pytest.approx(0.9)
    assert frame.loc[ours, ["dataset", "tricks"]].tolist() == ["digits", "adam 0.001"]  # a cnnkit run's defaults are real


def test_runs_frame_shows_only_peoples_tags(run_store):
    run_id = finished_run(run_store)
    run_store.set_run_tag(run_id, "baseline")
    run_store.set_run_tag(run_id, "owner", "ana")
    assert run_store.runs_frame()["tags"].tolist() == ["baseline, owner=ana"]


def test_runs_frame_of_an_unknown_experiment_is_empty_with_the_same_columns(run_store):
    frame = run_store.runs_frame("no such experiment")
    assert frame.empty and tuple(frame.columns) == tracking.RUN_COLUMNS


def test_runs_frame_leaves_garbage_collection_as_it_found_it(run_store):
    finished_run(run_store)
    run_store.runs_frame()
    assert gc.isenabled()
    gc.disable()
    try:
        run_store.runs_frame()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_runs_frame_stops_at_max_results(run_store):
    newest = [finished_run(run_store) for _ in range(3)][-2:]
    assert list(run_store.runs_frame(max_results=2)["run_id"]) == newest[::-1]


def test_runs_page_pages_newest_first_and_says_whether_runs_follow(run_store):
    made = [finished_run(run_store, name=f"run {i}") for i in range(5)][::-1]  # newest first
    run_store.delete_run(made[1])
    first = run_store.runs_page(page_size=2)
    assert list(first.runs.columns) == list(tracking.RUN_COLUMNS)
    assert first.runs["run_id"].tolist() == [made[0], made[2]] and first.more and first.next_token
    second = run_store.runs_page(page_size=2, page_token=first.next_token)
    assert second.runs["run_id"].tolist() == [made[3], made[4]]
    assert not second.more and second.next_token is None  # a full last page: nothing follows
    assert run_store.runs_page("attributes.run_name LIKE 'run 4'").runs["run_id"].tolist() == [made[0]]
    assert run_store.runs_page(page_size=2, experiment="no such experiment").runs.empty


def test_runs_page_says_in_one_line_which_filter_mlflow_refused(run_store):
    finished_run(run_store)
    with pytest.raises(InputError, match=r"^The store can't filter the runs this way: Expected a quoted") as refused:
        run_store.runs_page("params.dataset IN ('digits')")
    assert "\n" not in str(refused.value)


def test_runs_by_id_finds_the_runs_still_there_in_one_search(run_store, client, monkeypatch):
    kept, deleted = finished_run(run_store, name="kept"), finished_run(run_store, name="deleted")
    run_store.delete_run(deleted)
    searches = []
    search_runs = client.search_runs
    monkeypatch.setattr(client, "search_runs", lambda *args, **kwargs: searches.append(args) or search_runs(*args, **kwargs))
    frame = run_store.runs_by_id([deleted, kept, "not-an-id'", kept])
    assert frame["run_id"].tolist() == [kept] and frame["name"].tolist() == ["kept"]
    assert len(searches) == 1
    assert run_store.runs_by_id([]).empty and len(searches) == 1


def test_a_run_says_the_digest_of_the_data_it_trained_on_when_it_logged_one(run_store):
    from cnnkit.datasets import load_dataset

    logged, plain = run_on_data(run_store, "logged"), finished_run(run_store)
    assert run_store.run(logged).data_digest == load_dataset("digits").fingerprint()[:16]
    assert run_store.run(plain).data_digest is None  # logged before runs had dataset inputs


def test_the_runs_table_a_run_and_the_results_table_carry_each_runs_count_of_test_images(run_store):
    from cnnkit.datasets import load_dataset

    logged, plain = run_on_data(run_store, "logged"), finished_run(run_store)
    tested = len(load_dataset("digits").y_test)
    frame = run_store.runs_frame().set_index("run_id")
    assert frame.loc[logged, "test_images"] == tested and frame.loc[plain, "test_images"] is pd.NA
    assert run_store.runs_page().runs.set_index("run_id").loc[logged, "test_images"] == tested
    assert run_store.run(logged).test_images == tested and run_store.run(plain).test_images is None
    results = run_store.results_table([logged, plain])
    assert results["test_images"].tolist()[0] == tested and results["test_images"].tolist()[1] is pd.NA

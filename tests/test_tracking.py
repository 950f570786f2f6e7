"""Run bookkeeping against a temporary MLflow store: stale runs, the runs table, curves and
run management. Runs are made directly with `start_run` and `RunLogger`; nothing is trained."""

import gc
import math
import re
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from mlflow.exceptions import MlflowException

from cnnkit import InputError, tracking
from cnnkit.tracking import worker_process
from cnnkit.config import TrainConfig, describe_tricks

RICH = TrainConfig(schedule="cyclic", flip="horizontal", rotation=10, zoom=0.1, prefilter="sharpen",
                   label_smoothing=0.1, early_stopping=3, epochs=4)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory):
    """A store with MLflow's tables made once: creating them takes seconds, copying a file doesn't."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    tracking.make_client(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def client(tmp_path, empty_store):
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    return tracking.make_client(f"sqlite:///{tmp_path}/mlflow.db")


def finished_run(client, cfg=TrainConfig(), name=None, val_accuracies=(0.5, 0.7), test_accuracy=0.8):
    """A FINISHED run with per-epoch val_accuracy and a test accuracy, as `train` logs them."""
    logger = tracking.start_run(client, cfg, run_name=name)
    for epoch, value in enumerate(val_accuracies, start=1):
        logger.log_metrics({"val_accuracy": value}, step=epoch)
    logger.log_metrics({"test_accuracy": test_accuracy}, step=len(val_accuracies))
    logger.finish("FINISHED")
    return logger.run_id


# ---- stale runs ------------------------------------------------------------------------


def test_provenance_tags_name_this_host_and_process(client):
    tags = client.get_run(tracking.start_run(client, TrainConfig()).run_id).data.tags
    assert tags["cnnkit.host"] == socket.gethostname()
    assert tags["cnnkit.pid"] == str(os.getpid())
    assert tags.get("cnnkit.pid_started") == worker_process.start_time(os.getpid())
    assert tags.get("cnnkit.pid_namespace") == worker_process.this_process().get("cnnkit.pid_namespace")


def test_kill_stale_runs_ends_the_running_runs_whose_heartbeat_stopped_wherever_they_ran(client):
    began = time.time()
    silent = {"cnnkit.heartbeat": f"{began - 120:.1f}", "cnnkit.host": "another-machine"}
    stale = tracking.start_run(client, TrainConfig(), tags=silent).run_id
    in_other_experiment = tracking.start_run(client, TrainConfig(), experiment="elsewhere", tags=silent).run_id
    beating = tracking.start_run(client, TrainConfig()).run_id  # its heartbeat is from now
    untagged = client.create_run(tracking.experiment_id(client)).info.run_id
    scheduled = tracking.schedule_run(client, TrainConfig())
    client.set_tag(scheduled, "cnnkit.heartbeat", f"{time.time() - 120:.1f}")

    assert sorted(tracking.kill_stale_runs(client, stale_after_s=60)) == sorted([stale, in_other_experiment])

    run = client.get_run(stale)
    assert run.info.status == "KILLED" and run.info.end_time
    said = re.fullmatch(r"The worker training this run stopped before it finished: no heartbeat for (\d+) s\.",
                        run.data.tags["cnnkit.error"])
    assert said and 119 <= int(said[1]) <= 121 + time.time() - began  # the age when it was found (slow at load)
    for run_id in (beating, untagged):
        assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_run(scheduled).info.status == "SCHEDULED"  # waits for a worker, not stale
    assert tracking.kill_stale_runs(client, stale_after_s=60) == []


def test_a_running_run_whose_process_on_this_machine_is_gone_is_stale_at_once_however_fresh_its_heartbeat(client):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        started = worker_process.start_time(other.pid)

        def run_of(host, pid, pid_started=None, namespace=None):
            tags = {"cnnkit.host": host, "cnnkit.pid": str(pid)}  # the heartbeat is from now
            tags.update({key: value for key, value in (("cnnkit.pid_started", pid_started),
                                                        ("cnnkit.pid_namespace", namespace)) if value})
            return tracking.start_run(client, TrainConfig(), tags=tags).run_id

        dead = run_of(socket.gethostname(), ended.pid)
        alive = run_of(socket.gethostname(), other.pid, started)
        elsewhere = run_of("another-machine", ended.pid)
        in_a_container = run_of(socket.gethostname(), ended.pid, namespace="pid:[1]")  # named like this machine
        reused = run_of(socket.gethostname(), other.pid, str(int(started) - 1)) if started else None

        assert sorted(tracking.kill_stale_runs(client)) == sorted(filter(None, [dead, reused]))
    finally:
        other.kill()
        other.wait()
    assert client.get_run(dead).data.tags["cnnkit.error"] == (
        f"The worker training this run stopped before it finished: its process {ended.pid} on "
        f"{socket.gethostname()} is gone.")
    for run_id in (alive, elsewhere, in_a_container):
        assert client.get_run(run_id).info.status == "RUNNING"


# ---- the runs table --------------------------------------------------------------------


def test_runs_frame_lists_runs_newest_first_with_their_summary(client):
    first = finished_run(client, name="baseline")
    second = finished_run(client, RICH, val_accuracies=(0.6, 0.9, 0.85), test_accuracy=0.93)
    running = tracking.start_run(client, TrainConfig(dataset="mnist", arch="resnet_small")).run_id

    frame = tracking.runs_frame(client)

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


def test_runs_frame_durations_run_to_the_end_or_to_now(client):
    run_id = finished_run(client)
    running = tracking.start_run(client, TrainConfig()).run_id
    frame = tracking.runs_frame(client).set_index("run_id")
    now = time.time()
    info = client.get_run(run_id).info
    assert frame.loc[run_id, "duration_s"] == pytest.approx((info.end_time - info.start_time) / 1000)
    assert 0 <= frame.loc[running, "duration_s"] <= now - client.get_run(running).info.start_time / 1000


def test_runs_frame_shows_only_peoples_tags(client):
    run_id = finished_run(client)
    tracking.set_run_tag(client, run_id, "baseline")
    tracking.set_run_tag(client, run_id, "owner", "ana")
    assert tracking.runs_frame(client)["tags"].tolist() == ["baseline, owner=ana"]


def test_runs_frame_of_an_unknown_experiment_is_empty_with_the_same_columns(client):
    frame = tracking.runs_frame(client, "no such experiment")
    assert frame.empty and tuple(frame.columns) == tracking.RUN_COLUMNS


def test_runs_frame_leaves_garbage_collection_as_it_found_it(client):
    finished_run(client)
    tracking.runs_frame(client)
    assert gc.isenabled()
    gc.disable()
    try:
        tracking.runs_frame(client)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_runs_frame_stops_at_max_results(client):
    newest = [finished_run(client) for _ in range(3)][-2:]
    assert list(tracking.runs_frame(client, max_results=2)["run_id"]) == newest[::-1]



def test_runs_page_pages_newest_first_and_says_whether_runs_follow(client):
    made = [finished_run(client, name=f"run {i}") for i in range(5)][::-1]  # newest first
    tracking.delete_run(client, made[1])
    first = tracking.runs_page(client, page_size=2)
    assert list(first.runs.columns) == list(tracking.RUN_COLUMNS)
    assert first.runs["run_id"].tolist() == [made[0], made[2]] and first.more and first.next_token
    second = tracking.runs_page(client, page_size=2, page_token=first.next_token)
    assert second.runs["run_id"].tolist() == [made[3], made[4]]
    assert not second.more and second.next_token is None  # a full last page: nothing follows
    assert tracking.runs_page(client, "attributes.run_name LIKE 'run 4'").runs["run_id"].tolist() == [made[0]]
    assert tracking.runs_page(client, page_size=2, experiment="no such experiment").runs.empty


def test_runs_page_says_in_one_line_which_filter_mlflow_refused(client):
    finished_run(client)
    with pytest.raises(InputError, match=r"^The store can't filter the runs this way: Expected a quoted") as refused:
        tracking.runs_page(client, "params.dataset IN ('digits')")
    assert "\n" not in str(refused.value)


def test_runs_by_id_finds_the_runs_still_there_in_one_search(client, monkeypatch):
    kept, deleted = finished_run(client, name="kept"), finished_run(client, name="deleted")
    tracking.delete_run(client, deleted)
    searches = []
    search_runs = client.search_runs
    monkeypatch.setattr(client, "search_runs", lambda *args, **kwargs: searches.append(args) or search_runs(*args, **kwargs))
    frame = tracking.runs_by_id(client, [deleted, kept, "not-an-id'", kept])
    assert frame["run_id"].tolist() == [kept] and frame["name"].tolist() == ["kept"]
    assert len(searches) == 1
    assert tracking.runs_by_id(client, []).empty and len(searches) == 1


def test_compare_reads_several_runs_in_one_search_deleted_ones_too(client, monkeypatch):
    made = [finished_run(client, name=f"run {i}") for i in range(3)]
    tracking.delete_run(client, made[1])  # still comparable, as with get_run
    searches, get_runs = [], []
    search_runs, get_run = client.search_runs, client.get_run
    monkeypatch.setattr(client, "search_runs", lambda *args, **kwargs: searches.append(args) or search_runs(*args, **kwargs))
    monkeypatch.setattr(client, "get_run", lambda run_id: get_runs.append(run_id) or get_run(run_id))
    table = tracking.results_table(client, [made[2], made[1], made[0], made[2]])
    assert table["run"].tolist() == ["run 2", "run 1", "run 0"] and table["status"].tolist() == ["FINISHED"] * 3
    assert len(searches) == 1 and get_runs == []  # was a get_run per run, about as slow as a search of 20
    with pytest.raises(InputError, match="not found"):
        tracking.results_table(client, [made[0], "f" * 32])
    assert tracking.results_table(client, []).empty

# ---- one run's curves ------------------------------------------------------------------


def test_run_history_has_epoch_metrics_and_batches_with_the_rate_carried_forward(client):
    logger = tracking.start_run(client, TrainConfig())
    for epoch in (1, 2):
        logger.log_metrics({"loss": 1 / epoch, "val_accuracy": 0.4 * epoch, "lr": 0.01}, step=epoch)
    for step, loss in enumerate([2.0, 1.5, 1.2, 1.0], start=1):
        logger.log_metrics({"batch_loss": loss, **({"batch_lr": 0.01 * step} if step in (1, 3) else {})}, step=step)
    logger.finish("FINISHED")

    epochs, batches = tracking.run_history(client, logger.run_id)

    assert list(epochs.columns) == ["epoch", "loss", "val_accuracy", "lr"]  # only what was logged, in order
    assert epochs.to_dict("list") == {"epoch": [1, 2], "loss": [1.0, 0.5], "val_accuracy": [0.4, 0.8], "lr": [0.01, 0.01]}
    assert batches.to_dict("list") == {"step": [1, 2, 3, 4], "batch_loss": [2.0, 1.5, 1.2, 1.0],
                                       "batch_lr": [0.01, 0.01, 0.03, 0.03]}


def test_run_history_of_a_run_without_metrics_is_empty(client):
    epochs, batches = tracking.run_history(client, tracking.start_run(client, TrainConfig()).run_id)
    assert epochs.empty and list(epochs.columns) == ["epoch"]
    assert batches.empty and list(batches.columns) == ["step", "batch_loss", "batch_lr"]


# ---- managing runs ---------------------------------------------------------------------


def test_runs_can_be_renamed_tagged_untagged_and_deleted(client):
    kept, deleted = finished_run(client), finished_run(client)
    tracking.rename_run(client, kept, "  best so far ")
    tracking.set_run_tag(client, kept, "keeper", "yes")
    tracking.set_run_tag(client, kept, "draft")
    tracking.delete_run_tag(client, kept, "draft")
    tracking.delete_run(client, deleted)

    frame = tracking.runs_frame(client)
    assert frame[["run_id", "name", "tags"]].values.tolist() == [[kept, "best so far", "keeper=yes"]]
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"  # soft: MLflow can restore it


def test_the_run_store_reads_and_manages_runs_on_its_own_client(client):
    store = tracking.RunStore(client.tracking_uri)
    kept, deleted = finished_run(client, name="first"), finished_run(client)
    store.rename_run(kept, "renamed")
    store.set_run_tag(kept, "keeper", "yes")
    store.delete_run(deleted)

    run = store.run(kept)
    assert (run.run_id, run.name, run.status, run.metrics["test_accuracy"]) == (kept, "renamed", "FINISHED", 0.8)
    assert run.tags["keeper"] == "yes" and run.params["arch"] == TrainConfig().arch
    assert store.runs_frame()["run_id"].tolist() == [kept]
    assert store.run_history(kept)[0]["val_accuracy"].tolist() == [0.5, 0.7]
    with pytest.raises(InputError, match="not found"):
        store.run("0" * 32)
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"


@pytest.mark.parametrize("key", ["", "  ", "mlflow.runName", "cnnkit.pid", "keras.backend"])
def test_empty_and_reserved_tag_keys_are_refused(client, key):
    run_id = finished_run(client)
    with pytest.raises(InputError, match="[Tt]ag"):
        tracking.set_run_tag(client, run_id, key, "x")
    with pytest.raises(InputError, match="[Tt]ag"):
        tracking.delete_run_tag(client, run_id, key)
    assert client.get_run(run_id).data.tags["cnnkit.pid"] == str(os.getpid())


REFUSED_TAG_NAMES = ["**k**", "bad*name", "<b>x</b>", "a/../b", "/lead", "trail/", "a//b", ".", "..x", "x" * 251]
TAKEN_TAG_NAMES = ["keep", "with space", "a.b-c_d", "team/owner", ".hidden", "stage:2", "ü" * 250]


def test_tag_names_mlflow_would_refuse_are_refused_in_one_line_naming_the_tag_field(client):
    from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, _validate_tag_name

    run_id = finished_run(client)
    for key in REFUSED_TAG_NAMES:
        if len(key) <= MAX_ENTITY_KEY_LENGTH:
            with pytest.raises(MlflowException):  # MLflow's own rule, the independent check
                _validate_tag_name(key)
        with pytest.raises(InputError) as raised:
            tracking.set_run_tag(client, run_id, key, "x")
        assert str(raised.value).startswith(
            f"Tag '{key}' can't be a tag's name: use at most 250 letters, digits, spaces"), key


def test_tag_names_mlflow_takes_are_taken(client):
    from mlflow.utils.validation import _validate_tag_name

    run_id = finished_run(client)
    for key in TAKEN_TAG_NAMES:
        _validate_tag_name(key)
        tracking.set_run_tag(client, run_id, key, "x")
    tags = client.get_run(run_id).data.tags
    assert {key: tags.get(key) for key in TAKEN_TAG_NAMES} == dict.fromkeys(TAKEN_TAG_NAMES, "x")


def test_mlflow_refusals_reach_people_as_input_errors(client):
    run_id = finished_run(client)
    with pytest.raises(InputError, match="nope"):
        tracking.delete_run_tag(client, run_id, "nope")
    with pytest.raises(InputError):
        tracking.rename_run(client, run_id, " ")


# ---- the model registry ----------------------------------------------------------------


def run_with_model(client, tmp_path, status="FINISHED"):
    logger = tracking.start_run(client, TrainConfig())
    (tmp_path / "model.keras").write_bytes(b"a saved model")
    client.log_artifact(logger.run_id, str(tmp_path / "model.keras"), "model")
    logger.finish(status)
    return logger.run_id


def test_registering_a_run_twice_makes_versions_one_and_two_of_the_same_model(client, tmp_path):
    first, second = run_with_model(client, tmp_path), run_with_model(client, tmp_path)
    assert tracking.register_model(client, first, "  digits ").version == 1
    assert tracking.register_model(client, second, "digits").version == 2
    tracking.register_model(client, first, "Another")

    listed = [(v.name, v.version, v.run_id) for v in tracking.registered_models(client)]
    assert listed == [("Another", 1, first), ("digits", 2, second), ("digits", 1, first)]
    assert [(v.name, v.version) for v in tracking.registered_models(client, run_id=first)] == [("Another", 1), ("digits", 1)]
    assert client.get_model_version("digits", "2").run_id == second


def test_an_empty_store_has_no_registered_models(client):
    assert tracking.registered_models(client) == []


@pytest.mark.parametrize("name, message", [(" ", "needs a name"), ("a/b", "cannot contain '/'")])
def test_bad_model_names_are_refused_with_a_reason(client, tmp_path, name, message):
    run_id = run_with_model(client, tmp_path)
    with pytest.raises(InputError, match=message):
        tracking.register_model(client, run_id, name)
    assert tracking.registered_models(client) == []


def test_only_finished_runs_with_a_saved_model_can_be_registered(client, tmp_path):
    with pytest.raises(InputError, match="is FAILED: only a finished run"):
        tracking.register_model(client, run_with_model(client, tmp_path, status="FAILED"), "m")
    with pytest.raises(InputError, match="no saved model"):
        tracking.register_model(client, finished_run(client), "m")
    with pytest.raises(InputError):
        tracking.register_model(client, "0" * 32, "m")
    assert tracking.registered_models(client) == []


# ---- describe_tricks -------------------------------------------------------------------


def test_describe_tricks_of_the_defaults_is_only_the_optimizer():
    assert describe_tricks(TrainConfig().to_params()) == "adam 0.001"


def test_describe_tricks_lists_every_non_default_trick():
    assert describe_tricks(RICH.to_params()) == (
        "adam 0.001 · cyclic · flip, rot 10°, zoom 0.1 · sharpen · smooth 0.1 · early stop 3"
    )
    cfg = TrainConfig(optimizer="adamw", weight_decay=0.01, schedule="one_cycle", prefilter="blur_sharpen",
                      normalization="none", translate=0.1, pad_crop=4, activation="elu", batch_norm=False, width=2)
    assert describe_tricks(cfg.to_params()) == (
        "adamw 0.001 wd 0.01 · one-cycle · shift 0.1, crop 4px · blur+sharpen · raw pixels · elu, no batch norm, width ×2"
    )


def test_describe_tricks_names_weight_averaging_test_time_flip_and_mixed_precision():
    cfg = TrainConfig(flip="horizontal", ema_momentum=0.999, test_time_flip=True, precision="mixed_bfloat16")
    assert describe_tricks(cfg.to_params()) == "adam 0.001 · flip · EMA 0.999 · TTA flip · bf16"
    assert describe_tricks(cfg.replace(precision="mixed_float16").to_params()).endswith("· fp16")


def test_describe_tricks_reads_partial_and_odd_params_as_defaults():
    assert describe_tricks({}) == "adam 0.001"
    assert describe_tricks({"optimizer": "sgd", "learning_rate": "0.1", "rotation": "", "zoom": "lots"}) == "sgd 0.1"
    assert describe_tricks({"activation": "None", "dropout_scale": "default", "batch_norm": "true"}) == "adam 0.001 · batch norm"

"""A run's life in the store (cnnkit.tracking.run_lifecycle): provenance tags naming who trains it."""

import os
import socket
import tempfile
from pathlib import Path

import pytest

from cnnkit.config import TrainConfig, excluded_param, ids_digest
from cnnkit.errors import InputError
from cnnkit.tracking import run_schema, worker_process


def test_provenance_tags_name_this_host_and_process(run_store, client):
    tags = client.get_run(run_store.start_run(TrainConfig()).run_id).data.tags
    assert tags["cnnkit.host"] == socket.gethostname()
    assert tags["cnnkit.pid"] == str(os.getpid())
    assert tags.get("cnnkit.pid_started") == worker_process.start_time(os.getpid())
    assert tags.get("cnnkit.pid_namespace") == worker_process.this_process().get("cnnkit.pid_namespace")


def test_a_run_records_the_ids_it_excluded_as_an_artifact_and_their_count_and_digest_as_its_param(run_store, client):
    ids = tuple(f"train/{i}" for i in range(3000))  # some 30,000 characters: far beyond a param's 6,000
    cfg = TrainConfig(dataset="mnist", exclude_examples=ids)
    run_id = run_store.start_run(cfg).run_id
    params = client.get_run(run_id).data.params
    assert params["exclude_examples"] == f"3,000 examples, sha256 {ids_digest(ids)}"
    with tempfile.TemporaryDirectory() as folder:
        recorded = Path(client.download_artifacts(run_id, run_schema.EXCLUDED_EXAMPLES, folder)).read_text()
    assert recorded.splitlines() == sorted(ids)
    assert run_store.config_of_run(run_id) == cfg  # relaunch and fork start from this


def test_a_run_that_excluded_nothing_has_no_list_and_an_empty_param(run_store, client):
    run_id = run_store.start_run(TrainConfig()).run_id
    assert client.get_run(run_id).data.params["exclude_examples"] == ""
    assert run_schema.EXCLUDED_EXAMPLES.rsplit("/", 1)[1] not in str(client.list_artifacts(run_id, "dataset"))
    assert run_store.config_of_run(run_id) == TrainConfig()


def test_a_list_of_ids_that_is_missing_or_changed_is_refused_under_the_label(run_store, client):
    run_id = run_store.start_run(TrainConfig(exclude_examples=("7", "9"))).run_id
    client.log_text(run_id, "7\n8\n", run_schema.EXCLUDED_EXAMPLES)
    with pytest.raises(InputError, match="^Exclude examples: the ids found .* are not those the run recorded"):
        run_store.config_of_run(run_id)
    other = run_store.start_run(TrainConfig()).run_id
    bare = client.create_run(client.get_run(other).info.experiment_id).info.run_id
    client.log_param(bare, "exclude_examples", excluded_param(["7"]))
    with pytest.raises(InputError, match="its list of their ids .* is missing") as refused:
        run_store.config_of_run(bare)
    assert refused.value.field == "exclude_examples"


def test_a_relabelling_run_records_its_lines_before_the_params_and_its_config_comes_back(run_store, client):
    lines = ("cats/a,b.png,dogs", "dogs/c.png,cats")  # an id may hold a comma
    cfg = TrainConfig(dataset="folder", dataset_path="/data/pets", relabel_examples=lines)
    run_id = run_store.start_run(cfg).run_id
    params = client.get_run(run_id).data.params
    assert params["relabel_examples"] == excluded_param(lines) and params["relabel_examples"].startswith("2 examples")
    with tempfile.TemporaryDirectory() as folder:
        recorded = Path(client.download_artifacts(run_id, run_schema.RELABEL_EXAMPLES, folder)).read_text()
    assert recorded == 'id,new_label\n"cats/a,b.png",dogs\ndogs/c.png,cats\n'
    assert run_store.config_of_run(run_id) == cfg
    client.log_text(run_id, "id,new_label\ndogs/c.png,dogs\n", run_schema.RELABEL_EXAMPLES)
    with pytest.raises(InputError, match="^Relabel examples: the id,new_label lines found .* are not those the run "
                                         "recorded") as refused:
        run_store.config_of_run(run_id)
    assert refused.value.field == "relabel_examples"

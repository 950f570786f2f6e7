"""The Runs page's filters as MLflow filter strings (`run_search`), checked as strings and against
a real store: every filter must select the same runs the page used to keep when it filtered in
pandas. Runs are made directly with `start_run`; nothing is trained."""

import pytest

from cheap_runs import run_on_data
from cnnkit import InputError, tracking
from cnnkit.explorer import run_filter
from cnnkit.config import TrainConfig
from cnnkit.explorer.run_filter import RunFilter


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four runs, newest first: names with a quote and a %, a tag with a quote, three datasets, one RUNNING."""
    run_store = tracking.RunStore(f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db")
    made = {}
    for name, dataset, arch, tags, status in (
            ("it's digits", "digits", "kaggle_mnist_cnn", {"owner": "o'neil"}, "FINISHED"),
            ("fashion 100%", "fashion_mnist", "resnet_small", {"keep": ""}, "FAILED"),
            ('plain "mnist"', "mnist", "kaggle_mnist_cnn", {}, "KILLED"),
            ("still going", "digits", "resnet_small", {}, None)):
        logger = run_store.start_run(TrainConfig(dataset=dataset, arch=arch), run_name=name, tags=tags)
        if status:
            logger.finish(status)
        made[name] = logger.run_id
    return run_store, made


def names(store, chosen: RunFilter) -> list[str]:
    run_store, _ = store
    return run_store.runs_page(run_filter.filter_string(chosen)).runs["name"].tolist()


def test_no_filter_is_an_empty_filter_string():
    assert run_filter.filter_string(RunFilter()) == ""


def test_quotes_percent_and_backslash_typed_in_the_search_box_match_any_one_character():
    assert run_filter.search_clauses("it's 100%\\") == ["attributes.run_name ILIKE '%it_s 100__%'"]
    assert run_filter.search_clauses('say "hi"') == ["attributes.run_name ILIKE '%say _hi_%'"]


def test_the_search_box_reads_a_tag_a_run_id_or_a_name(store):
    _, made = store
    assert names(store, RunFilter(text="IT'S")) == ["it's digits"]  # any case, the quote matched
    assert names(store, RunFilter(text='"mnist"')) == ['plain "mnist"']
    assert names(store, RunFilter(text="100%")) == ["fashion 100%"]
    assert names(store, RunFilter(text="owner=O'NEIL")) == ["it's digits"]
    assert names(store, RunFilter(text="keep=")) == ["fashion 100%"]  # a tag without a value
    assert names(store, RunFilter(text=made["still going"][:8].upper())) == ["still going"]
    assert names(store, RunFilter(text="no run is called this")) == []


def test_a_tag_name_mlflow_cannot_search_is_refused_naming_the_search_box(store):
    for text in ("`x` = 1 OR 1=1", "=value"):
        with pytest.raises(InputError, match=r"^Search name, run id or tag: write a tag as name=value"):
            run_filter.filter_string(RunFilter(text=text))


def test_several_statuses_datasets_or_architectures_keep_runs_with_any_of_them(store):
    assert names(store, RunFilter(statuses=("FINISHED",))) == ["it's digits"]
    assert names(store, RunFilter(statuses=("RUNNING", "FAILED"))) == ["still going", "fashion 100%"]
    assert names(store, RunFilter(datasets=("digits", "mnist"))) == ["still going", 'plain "mnist"', "it's digits"]
    assert names(store, RunFilter(datasets=("mnist",))) == ['plain "mnist"']  # not fashion_mnist
    assert names(store, RunFilter(arches=("resnet_small",), statuses=("FAILED", "KILLED"))) == ["fashion 100%"]
    assert names(store, RunFilter(text="i", datasets=("digits",), arches=("kaggle_mnist_cnn",))) == ["it's digits"]


def test_one_of_several_is_written_as_none_of_the_others():
    assert run_filter.one_of("attributes.status", ["KILLED", "FAILED"], run_filter.STATUSES) == [
        "attributes.status != 'FINISHED'", "attributes.status != 'RUNNING'", "attributes.status != 'SCHEDULED'"]
    assert run_filter.one_of("params.arch", ["a", "a"], ["a", "b"]) == ["params.arch LIKE 'a'"]
    assert run_filter.one_of("params.arch", [], ["a", "b"]) == []


def test_a_dataset_digest_keeps_the_runs_with_a_dataset_input_of_it(run_store):
    same = [run_on_data(run_store, name) for name in ("first", "second")]
    other = run_on_data(run_store, "other split", val_fraction=0.2)
    digest = run_store.run(same[0]).data_digest
    assert run_filter.filter_string(RunFilter(digest=f" {digest} ")) == f"dataset.digest = '{digest}'"
    kept = run_store.runs_page(run_filter.filter_string(RunFilter(digest=digest, statuses=("FINISHED",))))
    assert sorted(kept.runs["run_id"]) == sorted(same)
    other_digest = run_store.run(other).data_digest
    assert run_store.runs_page(run_filter.filter_string(RunFilter(digest=other_digest))).runs["run_id"].tolist() == [other]


def test_a_digest_mlflow_never_wrote_is_refused_naming_its_box():
    for digest in ("abc' OR 1=1", "x" * 37):
        with pytest.raises(InputError, match=r"^Dataset digest: a digest is letters and digits only"):
            run_filter.filter_string(RunFilter(digest=digest))

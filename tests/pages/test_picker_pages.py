"""The run pickers of Inspect, Compare, Classify and Ablation (its base run) through Streamlit's AppTest, with fewer runs
offered than the store holds: a run older than the newest offered is found through "Find a run",
then shown, and stays picked when the search is cleared; a run linked from the Runs page or
registered as a model is offered however old.

One 1-epoch digits run trained on 10 images is the old run; three runs made without training
are newer, and the pickers offer the newest 2.
"""

import pytest
import streamlit as st
from cheap_runs import finished_runs

from cnnkit import tracking
from cnnkit.explorer import run_pickers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(tracking URI, the trained run's id, the newer runs' ids oldest first)."""
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    result = train(TrainConfig(dataset="digits", epochs=1, train_limit=10), tracking_uri=uri)
    assert result.status == "FINISHED"
    return uri, result.run_id, finished_runs(uri, ["newer 0", "newer 1", "newer 2"])


@pytest.fixture()
def picker_app(app, store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store[0])
    monkeypatch.setattr(run_pickers, "PICK_COUNT", 2)
    st.cache_data.clear()  # the pickers' runs are cached for a few seconds
    return app


def label(run_id: str) -> str:
    return run_pickers.run_label(tracking.RunStore(tracking.default_tracking_uri()).run(run_id).name, run_id)


def chart_specs(at) -> str:
    return " ".join(chart.proto.spec for chart in at.get("plotly_chart"))


def test_inspect_finds_an_older_run_by_its_id_shows_it_and_keeps_it_when_the_search_is_cleared(picker_app, store):
    _, old, newer = store
    at = picker_app.switch_page("app_pages/inspect.py").run()
    assert at.selectbox(key="inspect.run").options == [label(newer[2]), label(newer[1])]
    at.text_input(key="inspect.run.find").input(old[:8]).run()
    assert at.selectbox(key="inspect.run").options == [label(newer[2]), label(old)]  # the found run, the chosen one
    at.selectbox(key="inspect.run").set_value(old).run()
    assert not at.exception and not at.error
    assert "Confusion matrix" in chart_specs(at)
    at.text_input(key="inspect.run.find").input("").run()
    assert at.selectbox(key="inspect.run").options == [label(newer[2]), label(newer[1]), label(old)]
    assert at.selectbox(key="inspect.run").value == old
    assert "Confusion matrix" in chart_specs(at) and not at.exception


def test_changing_the_pick_reads_no_runs_again(picker_app, store, monkeypatch):
    """The newer runs have no evaluation: each rerun stops at its error, well within the cache's seconds."""
    _, _, newer = store
    reads = []
    for name in ("runs_page", "runs_by_id"):
        real = getattr(tracking.RunStore, name)
        monkeypatch.setattr(tracking.RunStore, name, lambda *args, real=real, name=name, **kwargs: (
            reads.append(name), real(*args, **kwargs))[1])
    at = picker_app.switch_page("app_pages/inspect.py")
    at.session_state["inspect_run"] = newer[0]  # linked, older than the newest 2
    at.run()
    assert reads == ["runs_page", "runs_by_id"]  # the newest runs, then the linked older one
    for run_id in (newer[2], newer[1], newer[0]):
        at.selectbox(key="inspect.run").set_value(run_id).run()
        assert at.selectbox(key="inspect.run").value == run_id
    assert reads == ["runs_page", "runs_by_id"]  # cached: read again only after PICKER_TTL_S


def test_inspect_opens_an_older_run_linked_from_the_runs_page(picker_app, store):
    _, old, _ = store
    at = picker_app.switch_page("app_pages/inspect.py")
    at.session_state["inspect_run"] = old
    at.run()
    assert at.selectbox(key="inspect.run").value == old
    assert "Confusion matrix" in chart_specs(at) and not at.exception


def test_inspect_says_when_a_search_finds_nothing_and_offers_the_newest(picker_app, store):
    _, _, newer = store
    at = picker_app.switch_page("app_pages/inspect.py").run()
    at.text_input(key="inspect.run.find").input("no such run").run()
    assert any(caption.value.startswith("No finished run is named like “no such run”") for caption in at.caption)
    assert at.selectbox(key="inspect.run").options == [label(newer[2]), label(newer[1])]
    assert not at.exception


def test_compare_finds_an_older_run_by_name_and_compares_it_with_a_newer_one(picker_app, store):
    _, old, newer = store
    at = picker_app.switch_page("app_pages/compare.py").run()
    assert at.multiselect(key="compare.runs").value == [newer[2], newer[1]]  # the two newest by default
    at.text_input(key="compare.runs.find").input("ON DIGITS").run()  # the trained run's name; the others are "newer i"
    assert at.multiselect(key="compare.runs").options == [label(newer[2]), label(newer[1]), label(old)]
    at.multiselect(key="compare.runs").set_value([old, newer[2]])
    at.session_state["compare.tab"] = "Results"  # as a click on the tab: only the open one is drawn
    at.run()
    assert not at.exception
    results = next(frame.value for frame in at.dataframe if "test_accuracy" in frame.value.columns)
    assert tracking.RunStore(tracking.default_tracking_uri()).run(old).name in list(results.index)
    at.text_input(key="compare.runs.find").input("").run()
    assert at.multiselect(key="compare.runs").value == [old, newer[2]]
    assert not at.exception


def test_compare_starts_from_older_runs_selected_on_the_runs_page(picker_app, store):
    _, old, newer = store
    at = picker_app.switch_page("app_pages/compare.py")
    at.session_state["compare_runs"] = [old, newer[0]]
    at.run()
    assert at.multiselect(key="compare.runs").value == [old, newer[0]]
    assert not at.exception


def test_classify_offers_a_model_registered_from_an_older_run_first(picker_app, store):
    _, old, _ = store
    tracking.RunStore(tracking.default_tracking_uri()).register_model(old, "old-best")
    at = picker_app.switch_page("app_pages/classify.py").run()
    picker = at.selectbox(key="classify.run")
    assert picker.options[0] == f"old-best v1 (registered, {label(old)})"
    assert picker.value == picker.options[0]
    assert not at.exception and not at.error


def test_classify_keeps_a_model_found_by_a_search_when_the_search_is_cleared(picker_app, store):
    _, _, newer = store
    at = picker_app.switch_page("app_pages/classify.py").run()
    at.text_input(key="classify.run.find").input("newer 0").run()
    at.selectbox(key="classify.run").set_value(label(newer[0])).run()
    at.text_input(key="classify.run.find").input("").run()
    assert at.selectbox(key="classify.run").value == label(newer[0])  # its label's run id was remembered
    assert not at.exception


def test_the_ablation_page_finds_an_older_run_for_its_base_and_keeps_it_when_the_search_is_cleared(picker_app, store):
    _, old, newer = store
    at = picker_app.switch_page("app_pages/ablation.py").run()
    sources = at.selectbox(key="ablation.base").options
    assert f"Run: {label(newer[2])}" in sources and f"Run: {label(old)}" not in sources
    at.text_input(key="ablation.base.find").input(old[:8]).run()
    at.selectbox(key="ablation.base").set_value(f"Run: {label(old)}").run()
    at.text_input(key="ablation.base.find").input("").run()
    assert at.selectbox(key="ablation.base").value == f"Run: {label(old)}" and not at.exception
    assert f"Run: {label(old)}" in at.selectbox(key="ablation.base").options


def test_a_store_whose_runs_the_picker_all_offers_shows_no_search_box(picker_app, store, monkeypatch):
    monkeypatch.setattr(run_pickers, "PICK_COUNT", 10)  # more than the store's 4 finished runs
    at = picker_app.switch_page("app_pages/inspect.py").run()
    assert len(at.selectbox(key="inspect.run").options) == 4 and not at.exception
    assert not [box for box in at.text_input if box.label == run_pickers.FIND_LABEL]


def test_compares_picker_matches_what_is_typed_as_one_piece_and_selects_all_only_among_a_few(picker_app):
    """Streamlit's default fuzzy filter matched "trial 2" in "trial 1 · 2c9e41" (its letters in order), and its
    "Select all" added up to 1000 runs at once."""
    from streamlit.proto.SelectWidgetFilterMode_pb2 import SelectWidgetFilterMode

    at = picker_app.switch_page("app_pages/compare.py").run()
    picker = at.multiselect(key="compare.runs").proto
    assert picker.filter_mode == SelectWidgetFilterMode.FILTER_MODE_CONTAINS
    assert picker.select_all == run_pickers.SELECT_ALL_UP_TO <= 10

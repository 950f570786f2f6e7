"""Time travel and forks through Streamlit's AppTest: the epoch slider rewinds Inspect and Compare,
Compare shows what an epoch fixed or broke and draws a fork after its parent, the Runs page forks."""

import base64
import json

import numpy as np
import pytest
import streamlit as st

from cnnkit import tracking
from cnnkit.experiments import time_travel
from cnnkit.explorer import charts
from cnnkit.config import TrainConfig
from cnnkit.tracking.lineage import Lineage, lineage_of
from cnnkit.training import fork, train
from alerts import alert_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lineage(tmp_path_factory):
    """(store, parent, fork): a 2-epoch digits run with snapshots after epochs 1 and 2, and a fork of it
    from epoch 1 that keeps no snapshots."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    parent = train(TrainConfig(dataset="digits", epochs=2, train_limit=100, batch_size=32, snapshot_every=1),
                   tracking_uri=uri)
    child = fork(parent.run_id, 1, {"snapshot_every": "0", "learning_rate": "0.0005"}, tracking_uri=uri)
    assert parent.status == child.status == "FINISHED"
    return uri, parent.run_id, child.run_id


@pytest.fixture()
def store_app(app, lineage, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", lineage[0])
    st.cache_data.clear()
    return app


def numbers(values) -> list:
    """A figure's array from its JSON: plotly writes numpy arrays as {"dtype", "bdata" (base64)}."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def confusion_z(at) -> list:
    spec = next(json.loads(chart.proto.spec) for chart in at.get("plotly_chart") if "Confusion" in chart.proto.spec)
    return spec["data"][0]["z"]


def test_the_epoch_slider_rewinds_inspect(store_app, lineage):
    uri, parent, _ = lineage
    store_app.session_state["inspect_run"] = parent
    at = store_app.switch_page("app_pages/inspect.py").run()
    slider = at.select_slider(key=f"inspect.epoch.{parent}")
    assert slider.options == ["1", "2 (final)"] and slider.value == "final"  # one stop for one model
    slider.set_value(1).run()
    assert not at.exception
    store = tracking.RunStore(uri)
    split = store.test_split_of_run(parent)
    then = time_travel.evaluation_at_epoch(store.snapshot_probabilities(parent, 1), split.y_test, split.x_test,
                                           [str(c) for c in range(10)])
    expected = json.loads(charts.confusion_matrix(then.confusion, then.class_names, normalize=True).to_json())
    assert confusion_z(at) == expected["data"][0]["z"]
    at.session_state["inspect.tab"] = "Feature maps"
    at_epoch_1 = [chart.proto.spec for chart in at.run().get("plotly_chart")]
    at.select_slider(key=f"inspect.epoch.{parent}").set_value("final").run()
    assert [chart.proto.spec for chart in at.get("plotly_chart")] != at_epoch_1  # the snapshot's model, not the final one
    assert not at.exception


def test_a_run_without_snapshots_has_no_slider_and_says_why(store_app, lineage):
    store_app.session_state["inspect_run"] = lineage[2]
    at = store_app.switch_page("app_pages/inspect.py").run()
    assert not at.select_slider
    assert any(caption.value.startswith(":material/history: No epoch slider: this run kept no snapshots")
               for caption in at.caption)


def test_compare_shows_what_an_epoch_fixed_and_broke_and_draws_the_fork_after_its_parent(store_app, lineage):
    uri, parent, child = lineage
    store_app.session_state["compare_runs"] = [parent, child]
    at = store_app.switch_page("app_pages/compare.py").run()
    assert not at.exception
    store = tracking.RunStore(uri)
    y_test = store.test_split_of_run(parent).y_test
    changes = time_travel.fixed_and_broken(y_test, store.snapshot_probabilities(parent, 1),
                                           store.snapshot_probabilities(parent, 2))
    curves = {trace["name"]: trace for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    parent_part = next(trace for name, trace in curves.items() if name.endswith("← parent ≤ 1"))
    assert numbers(parent_part["x"]) == [1] and parent_part["line"]["dash"] == "dash"
    fork_line = curves[parent_part["name"].removesuffix(" ← parent ≤ 1")]
    assert numbers(fork_line["x"]) == [2]  # the fork's own line continues at epoch 2, in the same colour
    assert fork_line["line"]["color"] == parent_part["line"]["color"] and "dash" not in fork_line["line"]
    at.session_state["compare.tab"] = "Fixed & broken"  # as a click on the tab: only the open one is drawn
    at.run()
    assert any(f"**{len(changes.fixed)} fixed** (wrong → right), **{len(changes.broken)} broken**" in text.value
               for text in at.markdown)
    at.session_state["compare.tab"] = "Confusion"
    at.select_slider(key="compare.epoch").set_value(1).run()
    assert any(caption.value.startswith("Shown finished, with no snapshot after epoch 1:") for caption in at.caption)
    assert not at.exception


def test_moving_the_between_epochs_slider_keeps_it_a_range(store_app, lineage):
    """A moved "Between epochs" slider gives back two epochs, as the browser sends them (its pick once
    came back as one epoch, since the widget was drawn as a range only through session state: a TypeError)."""
    _, parent, child = lineage
    store_app.session_state["compare_runs"] = [parent, child]
    at = store_app.switch_page("app_pages/compare.py")
    at.session_state["compare.tab"] = "Fixed & broken"
    at.run()
    at.select_slider(key=f"compare.changes.epochs.{parent}").set_range(2, 2).run()
    assert not at.exception
    assert [info.value for info in at.info] == ["Pick two different epochs."]
    at.select_slider(key=f"compare.changes.epochs.{parent}").set_range(1, 2).run()
    assert not at.exception
    assert any(text.value.startswith("From epoch 1 to 2:") for text in at.markdown)


def test_the_runs_page_forks_a_run_from_an_epoch_with_changed_settings(store_app, lineage):
    uri, parent, _ = lineage
    store_app.session_state["open_run"] = parent
    at = store_app.switch_page("app_pages/runs.py").run()
    at.text_input(key=f"fork-changes-{parent}").set_value("arch=mnist_cnn").run()
    at.button(key=f"fork-{parent}").click().run()
    assert any("“Architecture”" in alert_text(error) for error in at.error)  # refused before any job
    at.selectbox(key=f"fork-epoch-{parent}").set_value(1)
    at.text_input(key=f"fork-changes-{parent}").set_value("rotation=10 epochs=2").run()
    at.button(key=f"fork-{parent}").click().run()
    assert [success.value for success in at.success] == ["Forking in a job: follow it on the Train page."]
    from app_pages.common import job_manager

    job = job_manager().snapshots()[-1]
    ended = job_manager().wait(job.job_id, timeout=600)
    assert ended.state == "finished"
    run = tracking.RunStore(uri).run(ended.run_id)
    assert lineage_of(run.tags) == Lineage(parent, 1) and run.params["rotation"] == "10.0"
    assert [epoch["epoch"] for epoch in ended.epoch_history] == [2]
    assert np.isfinite(run.metrics["test_accuracy"])


def test_the_train_form_shows_the_disk_budget_of_the_snapshots(app):
    at = app.run()
    at.number_input(key="cfg.epochs").set_value(4).run()
    assert not [caption for caption in at.caption if "snapshots ×" in caption.value]  # off by default
    at.number_input(key="cfg.snapshot_every").set_value(3).run()
    budget = [caption.value for caption in at.caption if "snapshots ×" in caption.value]
    assert len(budget) == 1 and budget[0].startswith(":material/save: 2 snapshots × (")  # after epochs 3 and 4

"""The Inspect page through Streamlit's AppTest: tiny test sets, picks that follow the run, Grad-CAM's layer picker.

One 1-epoch digits run trained on 10 images serves every test; tiny test sets (fewer images than
its 10 classes) are that run's split and evaluation cut down.
"""

import dataclasses

import numpy as np
import pytest
import streamlit as st

from cnnkit import tracking
from cnnkit.explorer import charts
from alerts import alert_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(tracking URI, run id) of a finished 1-epoch digits run trained on 10 images."""
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    result = train(TrainConfig(dataset="digits", epochs=1, train_limit=10), tracking_uri=uri)
    assert result.status == "FINISHED"
    return uri, result.run_id


@pytest.fixture()
def inspect_app(app, tiny_run, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tiny_run[0])
    st.cache_data.clear()  # evaluations are cached by run id, and some tests cut this run's down
    return app


def cut_test_set(monkeypatch, size: int) -> None:
    """The run's test split keeps its first `size` images; its evaluation, the mistakes among them."""
    real_split, real_evaluation = tracking.RunStore.test_split_of_run, tracking.RunStore.evaluation_of_run

    def split(store, run_id):
        data = real_split(store, run_id)
        return dataclasses.replace(data, x_test=data.x_test[:size], y_test=data.y_test[:size])

    def evaluation(store, run_id):
        full = real_evaluation(store, run_id)
        mistakes = full.mistakes[full.mistakes["index"] < size]
        predicted = real_split(store, run_id).y_test[:size].copy()  # right where not a mistake
        predicted[mistakes["index"].to_numpy()] = mistakes["predicted"].to_numpy()
        confusion = np.zeros_like(full.confusion)
        np.add.at(confusion, (real_split(store, run_id).y_test[:size], predicted), 1)
        return dataclasses.replace(full, mistakes=mistakes, confusion=confusion,
                                   mistake_images={i: full.mistake_images[i] for i in mistakes["index"]
                                                   if i in full.mistake_images})

    monkeypatch.setattr(tracking.RunStore, "test_split_of_run", split)
    monkeypatch.setattr(tracking.RunStore, "evaluation_of_run", evaluation)


def of(run_id: str, name: str) -> str:
    """The key of the Inspect widget `name` for run `run_id`."""
    return f"inspect.{name}.{run_id}"


def chart_specs(at) -> str:
    return " ".join(chart.proto.spec for chart in at.get("plotly_chart"))


def opened(at, tab: str):
    """The page rerun with `tab` open, as a click on it does: only the open tab is drawn."""
    at.session_state["inspect.tab"] = tab
    return at.run()


def test_only_the_open_tab_is_drawn(inspect_app, tiny_run):
    at = inspect_app.switch_page("app_pages/inspect.py").run()
    assert "Confusion matrix" in chart_specs(at) and "Where the network looked for" not in chart_specs(at)
    opened(at, "Grad-CAM")
    assert "Where the network looked for" in chart_specs(at) and "Confusion matrix" not in chart_specs(at)
    assert not at.exception


def test_the_dashboard_needs_no_model_and_the_model_views_name_a_model_that_cannot_load(inspect_app, tiny_run,
                                                                                       monkeypatch):
    """The model loads in the background while the dashboard is drawn (switching runs waited for it)."""
    from cnnkit.errors import InputError

    def unloadable(store, run_id):
        raise InputError("The run's model file does not match its recorded SHA-256: it was changed after training.")

    monkeypatch.setattr(tracking.RunStore, "load_model", unloadable)
    at = inspect_app.switch_page("app_pages/inspect.py").run()
    assert not at.exception and not at.error
    assert "Confusion matrix" in chart_specs(at)
    for tab in ("Feature maps", "Filters", "Probabilities", "Grad-CAM"):
        opened(at, tab)
        assert not at.exception
        assert [alert_text(error) for error in at.error] == [
            "The run's model file does not match its recorded SHA-256: it was changed after training."], tab


def test_every_view_works_on_a_run_tested_on_fewer_images_than_classes(inspect_app, tiny_run, monkeypatch):
    run = tiny_run[1]
    cut_test_set(monkeypatch, 5)
    at = inspect_app.switch_page("app_pages/inspect.py").run()
    assert not at.exception  # was IndexError: index 5 is out of bounds (8 probability views of 5 images)
    assert any("tested on 5 images, fewer than its 10 classes" in alert_text(warning) for warning in at.warning)
    opened(at, "Probabilities")
    assert at.slider(key=of(run, "count")).max == 5
    assert any(caption.value == "This run has 5 test images." for caption in at.caption)
    assert any(caption.value.startswith("No test images of ") for caption in at.caption)
    at.slider(key=of(run, "count")).set_value(5).run()
    at.sidebar.radio(key=of(run, "source")).set_value("test set").run()
    at.sidebar.number_input(key=of(run, "index")).set_value(4).run()
    assert not at.exception
    opened(at, "Grad-CAM")
    assert not at.exception
    assert "Where the network looked for" in chart_specs(at)


@pytest.mark.parametrize("size", [0, 1, 3])
def test_tiny_test_sets_say_what_is_missing_instead_of_failing(inspect_app, tiny_run, monkeypatch, size):
    run = tiny_run[1]
    cut_test_set(monkeypatch, size)
    at = inspect_app.switch_page("app_pages/inspect.py").run()
    assert not at.exception
    assert any(f"tested on {size} image" in alert_text(warning) for warning in at.warning)
    if size == 0:
        assert [info.value for info in at.sidebar.info] == ["This run has no test images to pick from."]
        assert "This run has no test images." in [info.value for info in opened(at, "Probabilities").info]
        for tab in ("Feature maps", "Grad-CAM"):
            assert "No image to inspect: this run has no test images." in [info.value for info in opened(at, tab).info]
        assert "filters" in chart_specs(opened(at, "Filters"))  # the filters need no image
    else:
        at.sidebar.radio(key=of(run, "source")).set_value("test set").run()
        at.sidebar.number_input(key=of(run, "index")).set_value(size - 1).run()
        assert not at.exception
        assert "Computer vs human" in chart_specs(opened(at, "Probabilities"))
        assert "Where the network looked for" in chart_specs(opened(at, "Grad-CAM"))
    assert not at.exception


def test_grad_cam_offers_every_conv_layer_the_last_by_default(inspect_app, tiny_run):
    run = tiny_run[1]
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Grad-CAM")
    picker = at.selectbox(key=of(run, "cam_layer"))
    assert picker.options == ["conv1", "conv2"] and picker.value == "conv2"
    picker.set_value("conv1").run()
    assert not at.exception
    assert "Where the network looked for" in chart_specs(at) and "conv1" in chart_specs(at)
    assert any(caption.value == charts.GRAD_CAM_CAPTION for caption in at.caption)


PICKS = {"Feature maps": "layers", "Filters": "filter_layer", "Grad-CAM": "cam_layer"}  # tab -> its layer picker


def test_picks_reset_when_the_run_changes_and_stale_picks_never_raise(inspect_app, tiny_run):
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    other = train(TrainConfig(dataset="digits", arch="deep_mnist_cnn", epochs=1, train_limit=20), tracking_uri=tiny_run[0])
    at = inspect_app.switch_page("app_pages/inspect.py").run()
    assert at.selectbox(key="inspect.run").value == other.run_id  # the newest run first
    at.sidebar.radio(key=of(other.run_id, "source")).set_value("test set").run()
    at.sidebar.number_input(key=of(other.run_id, "index")).set_value(15).run()  # within the other run's test images
    for tab, pick in PICKS.items():  # each tab left on a pick of the other run's (the last tab stays open)
        opened(at, tab)
        layers = at.multiselect(key=of(other.run_id, "layers")).value if pick == "layers" else \
            at.selectbox(key=of(other.run_id, pick)).options
        widget = at.multiselect if pick == "layers" else at.selectbox
        widget(key=of(other.run_id, pick)).set_value(layers[-1:] if pick == "layers" else layers[0]).run()
        assert not at.exception

    at.selectbox(key="inspect.run").set_value(tiny_run[1]).run()
    assert not at.exception
    run = tiny_run[1]
    assert at.selectbox(key=of(run, "cam_layer")).value == "conv2"  # this run's last conv layer
    assert of(other.run_id, "cam_layer") not in at.session_state  # the other run's picks are forgotten
    assert at.sidebar.radio(key=of(run, "source")).value == "misclassified"
    assert opened(at, "Feature maps").multiselect(key=of(run, "layers")).value == ["conv1", "conv2"]  # all shown
    assert opened(at, "Filters").selectbox(key=of(run, "filter_layer")).value == "conv1"
    assert not at.exception


def test_a_tab_keeps_its_picks_while_another_tab_is_open(inspect_app, tiny_run):
    run = tiny_run[1]
    at = inspect_app.switch_page("app_pages/inspect.py").run()
    at.selectbox(key="inspect.run").set_value(run)  # another test may have trained a newer run
    opened(at, "Feature maps").multiselect(key=of(run, "layers")).set_value(["conv2"]).run()
    opened(at, "Grad-CAM").selectbox(key=of(run, "cam_layer")).set_value("conv1").run()
    opened(at, "Dashboard")
    assert of(run, "layers") not in at.session_state  # Streamlit forgot the closed tabs' widgets...
    assert opened(at, "Feature maps").multiselect(key=of(run, "layers")).value == ["conv2"]  # ...the page did not
    assert opened(at, "Grad-CAM").selectbox(key=of(run, "cam_layer")).value == "conv1"
    assert not at.exception and not at.warning


def test_the_view_goes_into_the_address_and_a_reload_or_a_shared_link_opens_it_again(inspect_app, tiny_run):
    from streamlit.testing.v1 import AppTest
    from app_script import APP

    _, run_id = tiny_run
    at = inspect_app.switch_page("app_pages/inspect.py")
    at.session_state["inspect_run"] = run_id  # other tests here add newer runs
    at.run()
    at.radio(key=of(run_id, "source")).set_value("test set").run()
    at.number_input(key=of(run_id, "index")).set_value(5).run()
    at = opened(at, "Filters")
    layers = at.selectbox(key=of(run_id, "filter_layer")).options
    at.selectbox(key=of(run_id, "filter_layer")).set_value(layers[-1]).run()
    assert not at.exception
    assert at.query_params == {"run": run_id, "tab": "Filters", "from": "test set", "image": "5", "layer": layers[-1]}
    reloaded = AppTest.from_file(APP, default_timeout=120)  # a new browser session on the same address
    reloaded.query_params = dict(at.query_params)
    reloaded.switch_page("app_pages/inspect.py").run()
    assert not reloaded.exception
    assert reloaded.selectbox(key="inspect.run").value == run_id and reloaded.session_state["inspect.tab"] == "Filters"
    assert reloaded.number_input(key=of(run_id, "index")).value == 5
    assert reloaded.selectbox(key=of(run_id, "filter_layer")).value == layers[-1]


def test_a_link_naming_a_gone_run_gives_a_note_and_opens_the_newest(inspect_app, tiny_run):
    from streamlit.testing.v1 import AppTest
    from app_script import APP

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params = {"run": "0" * 32, "tab": "Probabilities", "image": "-3"}
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="inspect.run").index == 0  # the newest
    assert "The link names a run no longer among the finished runs in this store (000000); it is left out." in [
        caption.value for caption in at.caption]

"""Inspect's "Embedding" tab through AppTest, on the tiny digits run of test_inspect_page: a Scattergl
map of the test images at once, coloured as picked, and the same run side by side with another."""

import json

import pytest

import test_inspect_page
from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.training import train
from test_inspect_page import opened
from test_time_travel_pages import numbers

pytestmark = pytest.mark.slow
tiny_run, inspect_app = test_inspect_page.tiny_run, test_inspect_page.inspect_app  # its fixtures, shared


def maps(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_the_map_shows_every_test_image_coloured_as_picked(inspect_app, tiny_run):
    uri, run = tiny_run
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Embedding")
    assert not at.exception
    [figure] = maps(at)
    assert {trace["type"] for trace in figure["data"]} == {"scattergl"}
    tested = len(tracking.RunStore(uri).test_split_of_run(run).y_test)
    positions = sorted(p for trace in figure["data"] for p in numbers(trace["customdata"]))
    assert positions == list(range(tested))  # under 10,000: every test image, once
    at.radio(key="inspect.embedding_colour").set_value("correct").run()
    assert {trace["name"] for trace in maps(at)[0]["data"]} <= {"right", "wrong"} and not at.exception


def test_a_second_run_is_drawn_beside_the_first(inspect_app, tiny_run):
    uri, run = tiny_run
    other = train(TrainConfig(dataset="digits", epochs=1, train_limit=10, seed=1), tracking_uri=uri).run_id
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Embedding")
    at.selectbox(key=f"inspect.embedding_beside.{at.session_state['inspect.run']}").set_value(
        other if at.session_state["inspect.run"] == run else run).run()
    assert not at.exception and len(maps(at)) == 2

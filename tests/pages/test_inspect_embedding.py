"""Inspect's "Embedding" tab through AppTest, on the tiny digits run of test_inspect_page: a Scattergl
map of the test images at once (PCA), UMAP swapped in once ready (computed once for every visitor),
coloured as picked, and the same run side by side with another.

UMAP itself is a stand-in here (the features' first two axes, when the test lets it finish): the real
one is tested in tests/explorer/test_embedding.py, and its first call compiles for tens of seconds."""

import json
import threading
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import test_inspect_page
from app_script import APP
from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.explorer import embedding
from cnnkit.training import train
from test_inspect_page import opened
from test_time_travel_pages import numbers

pytestmark = pytest.mark.slow
tiny_run, inspect_app = test_inspect_page.tiny_run, test_inspect_page.inspect_app  # its fixtures, shared


def maps(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titles(at) -> list[str]:
    return [figure["layout"]["title"]["text"] for figure in maps(at)]


class HeldUmap:
    """`embedding.umap_2d`'s stand-in: the features' first two axes, once `ready` is set; counts its calls."""

    def __init__(self):
        self.ready, self.calls, self.error = threading.Event(), 0, None

    def __call__(self, features, seed=embedding.SEED):
        self.calls += 1
        self.ready.wait(60)
        if self.error:
            raise self.error
        return np.asarray(features, dtype=float)[:, :2]


@pytest.fixture(autouse=True)
def umap(monkeypatch):
    held = HeldUmap()
    held.ready.set()
    monkeypatch.setattr(embedding, "umap_2d", held)
    return held


def rerun_until(at, done):
    """`at` run again, as the tab's poll does, until `done(at)` (10 s at most)."""
    for _ in range(50):
        if done(at):
            return at
        time.sleep(0.2)
        at.run()
    raise AssertionError(f"not done: {titles(at)}")


def projections(at) -> list[str]:
    """What each map is drawn by, from its title ("run · UMAP")."""
    return [title.split(" · ")[-1] for title in titles(at)]


def test_pca_is_drawn_at_once_and_umap_once_ready_for_every_visitor(inspect_app, umap):
    umap.ready.clear()
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Embedding")
    assert not at.exception and projections(at) == ["PCA"] and "UMAP is being computed" in at.info[0].value
    umap.ready.set()
    at = rerun_until(at, lambda at: projections(at) == ["UMAP"])
    assert not at.info and "UMAP took" in " ".join(caption.value for caption in at.caption)
    visitor = opened(AppTest.from_file(APP, default_timeout=120).switch_page("app_pages/inspect.py").run(), "Embedding")
    assert projections(visitor) == ["UMAP"] and umap.calls == 1  # computed once, for both
    at.radio(key="inspect.embedding_projection").set_value("pca").run()
    assert projections(at) == ["PCA"] and umap.calls == 1


def test_a_failed_umap_says_so_over_pca(inspect_app, umap):
    umap.error = InputError("UMAP needs umap-learn, which is not installed here.")
    at = rerun_until(opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Embedding"), lambda at: at.warning)
    assert not at.exception and projections(at) == ["PCA"]
    assert "UMAP failed: UMAP needs umap-learn" in at.warning[0].value


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


def test_without_umap_learn_pca_only_and_no_choice(inspect_app, umap, monkeypatch):
    monkeypatch.setattr(embedding, "umap_available", lambda: False)
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Embedding")
    assert not at.exception and projections(at) == ["PCA"] and umap.calls == 0
    assert not [radio for radio in at.radio if radio.key == "inspect.embedding_projection"]
    assert "UMAP needs umap-learn" in " ".join(caption.value for caption in at.caption)

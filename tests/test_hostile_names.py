"""Run names, tags, typed searches and job names with HTML or markdown render as their own text on
every page, through Streamlit's AppTest: each markdown element that shows one holds it escaped
(`cnnkit.explorer.plain_text.markdown`), and each chart holds it HTML-escaped (`cnnkit.explorer.plain_text.plotly`).

One 1-epoch digits run trained on 10 images (so Compare, Inspect and Classify have a model and an
evaluation) and one run made without training, both named hostilely."""

import json
import re

import pytest
import streamlit as st
from cheap_runs import finished_runs

from cnnkit import tracking
from cnnkit.explorer import plain_text, run_pickers
from cnnkit.config import TrainConfig
from cnnkit.training import Progress
from test_train_jobs_panel import BlockedTrainer, manager_on  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

HOSTILE = "# <img src=x onerror=alert(1)> **bold** [link](http://x) $x$ :red[red]"
CHEAP = "+ cheap **run** <b>b</b>"
SEARCHED = "**no** <img src> [such](run) $x$"  # typed into "Find a run": matches no run
TAG = ("__note__", "<i>value</i> [x](y) **v**")  # MLflow allows few characters in a tag's key
FORMATTED = ("<img", "**bold**", "**no**", "[link](", "$x$", ":red[", "<b>", "**run**", "<i>", "__note__")  # never shown unescaped


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(tracking URI, the trained run's id, the untrained run's id)."""
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    result = train(TrainConfig(dataset="digits", epochs=1, train_limit=10), tracking_uri=uri, run_name=HOSTILE)
    assert result.status == "FINISHED"
    [cheap] = finished_runs(uri, [CHEAP])
    tracking.RunStore(uri).set_run_tag(cheap, TAG[0], TAG[1])
    return uri, result.run_id, cheap


@pytest.fixture()
def hostile_app(app, store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store[0])
    monkeypatch.setattr(run_pickers, "PICK_COUNT", 1)  # so the pickers draw their "Find a run" box
    st.cache_data.clear()
    return app


def bodies(at) -> list[str]:
    """The text of every element Streamlit renders as markdown."""
    kinds = ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title", "header", "toast")
    texts = [element.value for kind in kinds for element in at.get(kind)]
    return texts + [element.proto.text for element in at.get("progress")]


def assert_shown_as_text(at, *names: str) -> None:
    """Each of `names` is shown escaped at least once, and nothing is shown formatted."""
    assert not at.exception
    shown = bodies(at)
    for name in names:
        assert any(plain_text.markdown(name) in body for body in shown), (name, shown)
    assert not [body for body in shown if any(re.search(r"(?<!\\)" + re.escape(raw), body) for raw in FORMATTED)]


def chart_strings(at) -> list[str]:
    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    return [text for chart in at.get("plotly_chart") for text in strings(json.loads(chart.proto.spec))]


def assert_charted_as_text(at, name: str) -> None:
    texts = chart_strings(at)
    assert any(plain_text.plotly(name) in text for text in texts)
    assert not [text for text in texts if "<img" in text or "<b>b" in text]


def test_the_runs_page_shows_a_hostile_run_name_and_tag_as_text(hostile_app, store):
    _, trained, cheap = store
    at = hostile_app.switch_page("app_pages/runs.py").run()
    at.session_state["runs.table"] = {"selection": {"rows": [0, 1]}}  # both runs ticked; the last one opens
    at = at.run()
    assert at.session_state["open_run"] in (trained, cheap)
    opened = HOSTILE if at.session_state["open_run"] == trained else CHEAP
    assert any(body.startswith(plain_text.markdown(opened) + " · FINISHED") for body in bodies(at))  # the subheader
    at.session_state["open_run"] = cheap
    at.multiselect(key="runs.status").set_value(["FAILED"]).run()  # hides both: the selection bar names them
    assert_shown_as_text(at, HOSTILE, CHEAP, *TAG)


def test_compare_shows_hostile_names_as_text_in_its_messages_and_charts(hostile_app, store, monkeypatch):
    _, trained, cheap = store
    monkeypatch.setattr(run_pickers, "PICK_COUNT", 2)
    at = hostile_app.switch_page("app_pages/compare.py").run()
    at.multiselect(key="compare.runs").set_value([trained, cheap]).run()
    assert_charted_as_text(at, HOSTILE)  # the curves' legend
    at.session_state["compare.tab"] = "Results"
    at = at.run()
    assert_charted_as_text(at, "<b>b</b>")  # the bars' run names (wrapped: the name's last part)
    at.session_state["compare.tab"] = "Confusion"
    at = at.run()
    assert_shown_as_text(at, CHEAP)  # it has no evaluation: the warning names it
    assert_charted_as_text(at, HOSTILE)  # the confusion matrix's title


@pytest.mark.parametrize("page, key", [("inspect", "inspect.run"), ("classify", "classify.run"),
                                       ("ablation", "ablation.base")])
def test_a_hostile_search_in_a_run_picker_is_shown_as_text(hostile_app, page, key):
    at = hostile_app.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception
    at.text_input(key=f"{key}.find").input(SEARCHED).run()
    assert_shown_as_text(at, SEARCHED)  # "No finished run is named like …"


def test_the_train_pages_jobs_panel_and_sidebar_show_a_hostile_job_name_as_text(app, manager_on, monkeypatch):  # noqa: F811
    import app_pages.common

    trainer = BlockedTrainer(Progress("training", 1, 5, 2, 10))
    manager = manager_on(trainer)
    monkeypatch.setattr(app_pages.common, "visitor", lambda: "address 10.0.0.7")  # the live view follows one's own job
    job_id = manager.submit(TrainConfig(), name=HOSTILE, visitor="address 10.0.0.7")
    try:
        assert trainer.reported.wait(60)
        at = app.run()
        shown = bodies(at)
        assert sum(plain_text.markdown(HOSTILE) in body for body in shown) >= 3  # the card, the live view, the sidebar
        assert_shown_as_text(at, HOSTILE)
    finally:
        trainer.release.set()
    assert manager.wait(job_id, 60).state == "finished"

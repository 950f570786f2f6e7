"""Inspect's label issues of the training split (app_pages/label_audit_panel.py) through AppTest, on a tiny digits
run: no audit yet said in neutral words; an audit started from the tab shows its progress and a Cancel; a cancelled
audit names the folds that did not finish and trains only them again; then its suspects, ranked from the fold runs'
logged predictions, with a CSV and a button that opens Train without them. A run whose settings can't be read says
so in one line."""

import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnkit import tracking
from cnnkit.experiments import label_audit
from cnnkit.explorer import label_issues
from alerts import alert_text
from test_inspect_page import opened

pytestmark = pytest.mark.slow
TIMEOUT = 600


@pytest.fixture()
def audited_app(app, tmp_path, monkeypatch):
    """The app on a store holding one finished 30-epoch digits run on 60 images: (AppTest, URI, run id). Its
    fold runs train 30 epochs of one batch: seconds, so a Cancel clicked at once catches them running."""
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path / 'audit.db'}"
    result = train(TrainConfig(dataset="digits", epochs=30, train_limit=60), tracking_uri=uri)
    assert result.status == "FINISHED", result.error
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    st.cache_data.clear()
    return app, uri, result.run_id


def training_tab(at, run_id: str):
    at = opened(at, "Label issues")
    at.segmented_control(key=f"inspect.label_issues_source.{run_id}").set_value(
        "Training split (a label audit)").run()
    assert not at.exception
    return at


def button(at, label: str):
    return next(one for one in at.button if one.label.startswith(label))


def test_an_audit_started_cancelled_and_completed_from_the_tab_shows_its_suspects(audited_app):
    app, uri, run_id = audited_app
    at = training_tab(app.switch_page("app_pages/inspect.py").run(), run_id)
    assert [info.value for info in at.info] == ["No label audit of this run's settings yet: start one above."]
    assert not at.error
    at.number_input(key=f"inspect.label_audit_folds.{run_id}").set_value(2).run()
    button(at, "Start the label audit").click().run()
    assert not at.exception and not at.error
    audit_id = at.session_state[f"inspect.label_audit.{run_id}"]
    from app_pages.label_audit_panel import launches

    launch = launches()[audit_id]
    assert re.search(r"fold runs: \d of 2 runs done", at.get("progress")[0].proto.text)
    button(at, "Cancel the audit").click().run()
    assert launch.cancelled and not launch.wait(TIMEOUT).active
    at.run()
    assert not at.exception
    warning = " ".join(alert_text(one) for one in at.warning)
    assert re.search(r"Folds? [12](, 2)? of 2 did not finish", warning), warning
    button(at, "Retrain the missing folds").click().run()
    assert not at.exception and not at.error
    again = launches()[audit_id]
    other = AppTest.from_file(app._script_path, default_timeout=120)  # a second visitor sees the same audit
    other.session_state["inspect_run"] = run_id
    other = training_tab(other.switch_page("app_pages/inspect.py").run(), run_id)
    assert other.selectbox(key=f"inspect.label_audit.{run_id}").value == audit_id
    assert again is not launch and again.wait_collected(TIMEOUT) is not None, again.collect_error
    at.run()
    assert not at.exception and not at.error
    store = tracking.RunStore(uri)
    stored = label_audit.stored_audit(store, audit_id)
    assert stored.missing == ()
    table, audited = label_issues.stored_audit_issues(store, [stored.finished[0], stored.finished[1]])
    assert audited == len(store.config_of_run(stored.finished[0]).exclude_examples) + len(
        store.config_of_run(stored.finished[1]).exclude_examples)  # each fold run left out its fold only
    assert f"**{len(table):,}** suspected label error" in " ".join(m.value for m in at.markdown)
    assert f"among {audited:,} training examples" in " ".join(m.value for m in at.markdown)
    assert len(table), "30 training images a fold: a weak model doubts many labels"
    assert at.dataframe[0].value[["position", "id"]].values.tolist() == table[["position", "id"]].head(
        20).values.tolist()
    assert "Suspected label errors" in at.get("plotly_chart")[0].proto.spec
    assert at.get("download_button")
    assert button(at, "Train again without these").label == f"Train again without these {len(table):,} examples"
    at.slider(key=f"inspect.label_audit_top.{audit_id}").set_value(2).run()
    button(at, "Train again without these 2 examples").click().run()
    assert not at.exception and at.title[0].value == "Train"
    assert sorted(at.text_area(key="cfg.exclude_examples").value.splitlines()) == sorted(table["id"].head(2))
    assert at.number_input(key="cfg.train_limit").value == 60


def test_a_run_whose_settings_cannot_be_read_says_why_in_one_line(audited_app, monkeypatch):
    from cnnkit.errors import InputError

    app, uri, run_id = audited_app

    def unreadable(store, run_id):
        raise InputError(f"Run {run_id} excluded 2, but its list of their ids (excluded_examples.txt) is missing.")

    monkeypatch.setattr(tracking.RunStore, "config_of_run", unreadable)
    at = training_tab(app.switch_page("app_pages/inspect.py").run(), run_id)
    assert not at.error
    assert [info.value for info in at.info if info.value.endswith("is missing.")], [i.value for i in at.info]

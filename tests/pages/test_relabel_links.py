"""Inspect's relabel button under a label-issues table, drawn alone through AppTest on a run in the test's store."""

import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnkit import tracking
from cnnkit.config import TrainConfig


def draw(run_id: str, rows: list) -> None:
    import pandas as pd

    from app_pages import relabel_links

    relabel_links.show(run_id, pd.DataFrame(rows, columns=["split", "id", "given_label", "suggested_label"]))


def test_the_button_opens_train_with_the_training_suspects_relabelled(app, monkeypatch):
    import os

    run_id = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"]).start_run(
        TrainConfig(dataset="csv", dataset_path="/data/train.csv")).run_id
    opened = []
    monkeypatch.setattr(st, "switch_page", opened.append)
    at = AppTest.from_function(draw, args=(run_id, [("training", "12", "4", "9"), ("training", "3", "1", "0")]))
    at.run()
    assert not at.exception
    at.button(key=f"inspect.relabel.{run_id}").click().run()
    assert at.button(key=f"inspect.relabel.{run_id}").label == "Train again with these 2 relabelled to the suggestion"
    assert opened == ["app_pages/train.py"]
    assert at.session_state["relaunch_config"]["relabel_examples"] == ("12,9", "3,0")


def test_held_out_suspects_get_a_caption_saying_why_not(app):
    import os

    run_id = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"]).start_run(
        TrainConfig(dataset="csv", dataset_path="/data/train.csv")).run_id
    at = AppTest.from_function(draw, args=(run_id, [("test", "12", "4", "9")])).run()
    assert not at.exception and not at.button
    assert at.caption[0].value.startswith("Relabelling: Only training examples can be relabelled")


def draw_training_split(run_id: str, rows: list) -> None:
    import pandas as pd

    from app_pages import inspect_label_issues, label_audit_panel

    table = pd.DataFrame(rows, columns=["rank", "split", "position", "id", "given_label", "suggested_label", "score"])
    label_audit_panel.show = lambda run: (table, 100, "a1b2c3")  # a stored audit's suspects, as the panel gives them
    inspect_label_issues.training_split(run_id, None)


def test_an_audits_relabel_button_takes_as_many_suspects_as_the_slider_leaves_out(app, monkeypatch):
    import os

    from app_pages import label_audit_panel

    monkeypatch.setattr(label_audit_panel, "show", label_audit_panel.show)  # restored after the draw replaced it
    run_id = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"]).start_run(
        TrainConfig(dataset="csv", dataset_path="/data/train.csv")).run_id
    rows = [(1, "training", 12, "12", "4", "9", 0.01), (2, "training", 3, "3", "1", "0", 0.02),
            (3, "training", 40, "40", "2", "7", 0.03)]
    at = AppTest.from_function(draw_training_split, args=(run_id, rows)).run()
    assert not at.exception
    assert at.button(key=f"inspect.relabel.{run_id}").label == "Train again with these 3 relabelled to the suggestion"
    at.slider(key="inspect.label_audit_top.a1b2c3").set_value(2).run()
    assert at.button(key=f"inspect.relabel.{run_id}").label == "Train again with these 2 relabelled to the suggestion"
    monkeypatch.setattr(st, "switch_page", lambda page: None)
    at.button(key=f"inspect.relabel.{run_id}").click().run()
    assert at.session_state["relaunch_config"]["relabel_examples"] == ("12,9", "3,0")

"""The Runs page's selection, through Streamlit's AppTest: kept by run id through filters and refreshes.

A tick is simulated as the browser reports it: the table widget's state holds the ticked row
positions in the rows the page last drew. Runs are made directly with `start_run`; nothing is
trained. The click in a real browser is driven by tests/e2e/test_e2e.py.
"""

import json
import os

import pytest

from cnnkit import tracking
from cnnkit.explorer import run_filter
from cnnkit.config import TrainConfig
from alerts import alert_text
from cheap_runs import finished_runs, run_on_data


@pytest.fixture()
def runs(app):
    """Three finished runs, newest first: two on digits, one on fashion_mnist."""
    run_store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    made = []
    for name, dataset in (("oldest digits", "digits"), ("fashion", "fashion_mnist"), ("newest digits", "digits")):
        logger = run_store.start_run(TrainConfig(dataset=dataset), run_name=name)
        logger.log_metrics({"test_loss": 0.5, "test_accuracy": 0.875}, step=1)
        logger.finish("FINISHED")
        made.append(logger.run_id)
    return made[::-1]


def tick(at, *rows: int):
    """The user leaves `rows` (positions in the table as last drawn) ticked."""
    at.session_state["runs.table"] = {"selection": {"rows": list(rows)}}
    return at.run()


def ticked_rows(at) -> list[int]:
    return list(at.session_state["runs.table"]["selection"]["rows"])


def test_a_ticked_run_stays_selected_and_open_when_a_filter_hides_it(app, runs):
    newest, fashion, oldest = runs
    at = app.switch_page("app_pages/runs.py").run()
    tick(at, 2)  # the oldest run, last row
    assert at.session_state["open_run"] == oldest
    at.multiselect(key="runs.dataset").set_value(["fashion_mnist"]).run()
    assert not at.exception  # was IndexError: positional indexers are out-of-bounds (row 2 of a one-row table)
    assert at.session_state["runs.selected"] == [oldest]
    assert ticked_rows(at) == []  # the one row shown is not the selected run
    hidden = f"1 selected · 1 hidden by the filters or on other pages: **oldest digits · {oldest[:6]}** (still open below)"
    assert hidden in [text.value for text in at.markdown]
    assert any(oldest in caption.value for caption in at.caption)  # its details are still shown
    at.run()  # the table's 5-second refresh
    assert not at.exception and at.session_state["runs.selected"] == [oldest]

    tick(at, 0)  # now also the fashion run, the only row shown
    assert at.session_state["runs.selected"] == [oldest, fashion]
    assert at.session_state["open_run"] == fashion
    assert any(button.label == "Compare the 2 selected runs" for button in at.button)

    at.multiselect(key="runs.dataset").set_value([]).run()
    assert ticked_rows(at) == [1, 2]  # both ticks on their own rows again
    at.text_input(key="runs.search").set_value("newest").run()
    assert not at.exception and ticked_rows(at) == []
    assert at.session_state["runs.selected"] == [oldest, fashion]


def test_unticking_closes_the_run_and_clear_selection_unticks_all(app, runs):
    newest, fashion, oldest = runs
    at = app.switch_page("app_pages/runs.py").run()
    tick(at, 0, 1)
    assert at.session_state["runs.selected"] == [newest, fashion]
    tick(at, 0)
    assert at.session_state["runs.selected"] == [newest] and at.session_state["open_run"] == newest
    tick(at)
    assert at.session_state["runs.selected"] == [] and not at.session_state["open_run"]
    assert not at.subheader  # no run open below the table
    tick(at, 1, 2)
    next(button for button in at.button if button.label == "Clear selection").click().run()
    assert at.session_state["runs.selected"] == [] and ticked_rows(at) == [] and not at.session_state["open_run"]


def test_a_new_run_on_top_keeps_the_ticks_on_the_selected_runs(app, runs):
    newest, fashion, oldest = runs
    at = app.switch_page("app_pages/runs.py").run()
    tick(at, 0)
    run_store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    run_store.start_run(TrainConfig(), run_name="started meanwhile")  # RUNNING, listed first
    at.run()
    assert at.session_state["runs.selected"] == [newest]
    assert ticked_rows(at) == [1] and at.session_state["open_run"] == newest


def test_an_open_runs_test_accuracy_is_shown_in_percent(app, runs):
    at = app.switch_page("app_pages/runs.py").run()
    tick(at, 0)
    metrics = next(table for table in at.dataframe if "test_accuracy" in table.value.columns)
    columns = json.loads(metrics.proto.columns)
    assert columns["test_accuracy"]["type_config"]["format"] == "percent"
    assert "test_loss" not in columns  # a loss is no share


def test_a_cancelled_runs_note_is_a_warning_and_a_failed_runs_an_error(app):
    run_store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    for status, note in (("FAILED", "Loss diverged."), ("KILLED", "Cancelled by the user.")):
        run_store.start_run(TrainConfig(), run_name=status).finish(status, error=note)
    at = app.switch_page("app_pages/runs.py").run()
    tick(at, 0)  # the newest: the cancelled run
    assert [warning.value for warning in at.warning] == ["Cancelled by the user."] and not at.error
    tick(at, 1)
    assert [error.value for error in at.error] == ["Loss diverged."]


def caption_of_table(at) -> str:
    return next(caption.value for caption in at.caption if "tick a row" in caption.value)


def test_runs_come_a_page_at_a_time_and_a_tick_on_another_page_stays(app, runs, monkeypatch):
    newest, fashion, oldest = runs
    monkeypatch.setattr(run_filter, "PAGE_SIZE", 2)
    at = app.switch_page("app_pages/runs.py").run()
    assert caption_of_table(at).startswith("runs 1–2 of more than 2 · pages go from the newest run to the oldest")
    assert at.dataframe[0].value["name"].tolist() == ["newest digits", "fashion"]
    assert at.button(key="runs.previous").disabled
    tick(at, 0)
    at.button(key="runs.next").click().run()
    assert not at.exception and caption_of_table(at).startswith("runs 3–3 of 3 · ")
    assert at.dataframe[0].value["name"].tolist() == ["oldest digits"] and at.button(key="runs.next").disabled
    assert ticked_rows(at) == [] and at.session_state["runs.selected"] == [newest]
    assert f"1 selected · 1 hidden by the filters or on other pages: **newest digits · {newest[:6]}** (still open below)" \
        in [text.value for text in at.markdown]
    tick(at, 0)
    assert at.session_state["runs.selected"] == [newest, oldest] and at.session_state["open_run"] == oldest
    at.multiselect(key="runs.status").set_value(["FINISHED"]).run()  # a new filter starts at its first page
    assert caption_of_table(at).startswith("runs 1–2 of more than 2")
    assert ticked_rows(at) == [0] and at.session_state["runs.selected"] == [newest, oldest]
    at.button(key="runs.next").click().run()
    at.button(key="runs.previous").click().run()
    assert caption_of_table(at).startswith("runs 1–2 of more than 2") and ticked_rows(at) == [0]


def test_a_search_mlflow_cannot_run_is_said_on_the_page_and_the_selection_kept(app, runs):
    newest, fashion, oldest = runs
    at = app.switch_page("app_pages/runs.py").run()
    tick(at, 1)
    at.text_input(key="runs.search").set_value("`owner` = 'x' OR 1=1").run()
    assert not at.exception
    assert [alert_text(error) for error in at.error] == [
        "Search name, run id or tag: write a tag as name=value, its name in letters, digits and _ - . / : or spaces."]
    assert at.session_state["runs.selected"] == [fashion] and at.session_state["open_run"] == fashion
    at.text_input(key="runs.search").set_value("owner=").run()
    assert not at.error and caption_of_table(at).startswith("No run matches the filters")


def test_the_table_shows_the_results_beside_a_bounded_name_and_claims_no_order_a_header_click_could_change(app, runs):
    at = app.switch_page("app_pages/runs.py").run()
    table = at.dataframe[0]
    assert list(table.value.columns[:8]) == ["name", "test_accuracy", "test_interval", "val_accuracy",
                                             "time_to_val_acc_90", "time_to_val_acc_95", "time_to_val_acc_98",
                                             "time_to_val_acc_99"]
    columns = json.loads(table.proto.columns)
    assert columns["name"]["width"] == "medium"  # a long ablation name can't push the results off screen
    assert (columns["time_to_val_acc_90"]["label"], columns["time_to_val_acc_90"]["type_config"]["format"]) == (
        "to 90 %", "%.0f s")
    assert "newest first" not in caption_of_table(at)  # the browser may have sorted the rows by any column


def test_runs_trained_on_the_same_data_as_the_open_run_are_one_click_away(app):
    run_store = tracking.RunStore(os.environ["MLFLOW_TRACKING_URI"])
    for name, val_fraction in (("first", 0.1), ("other split", 0.2), ("second", 0.1)):
        run_on_data(run_store, name, val_fraction)
    finished_runs(os.environ["MLFLOW_TRACKING_URI"], ["no dataset inputs"])  # as runs logged before them
    at = app.switch_page("app_pages/runs.py").run()
    tick(at, 0)  # the run without inputs has nothing to filter by
    assert not any(button.label == "Runs trained on the same data" for button in at.button)
    tick(at, 1)  # "second"
    at.button(key="runs.same_data").click().run()
    assert not at.exception
    digest = at.text_input(key="runs.digest").value
    assert digest == run_store.run(at.session_state["open_run"]).data_digest
    assert sorted(at.dataframe[0].value["name"]) == ["first", "second"]
    at.text_input(key="runs.digest").set_value("not a digest!").run()
    assert [alert_text(error) for error in at.error] == [
        "Dataset digest: a digest is letters and digits only, at most 36 of them, as MLflow shows it."]

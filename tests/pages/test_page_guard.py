"""A page whose code fails shows one line and logs the traceback; Streamlit's own control flow passes."""

import logging
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnkit.config import data_loading
from alerts import alert_text

ROOT = Path(__file__).resolve().parents[2]


def test_an_unexpected_error_shows_one_line_at_the_top_and_logs_the_traceback(app, monkeypatch, caplog):
    def fail(cfg):
        raise RuntimeError("the disk\nis on fire")

    monkeypatch.setattr(data_loading, "load_data", fail)  # what the Train page calls to show its data
    with caplog.at_level(logging.ERROR, logger="cnnkit.app"):
        at = app.run()
    assert not at.exception
    [error] = at.error
    assert alert_text(error).startswith("Something went wrong, so this stopped here: RuntimeError: the disk is on fire")
    assert at.main.children[0].type == "error"  # above the page's title, where it is seen
    [record] = [r for r in caplog.records if r.name == "cnnkit.app"]
    assert record.exc_info[0] is RuntimeError and "the Train page" in record.getMessage()
    reference = record.getMessage().split()[1]
    assert f"error {reference}" in alert_text(error)  # the person can quote what the log holds


def app_with_failures():
    import streamlit as st

    from cnnkit.errors import InputError
    from app_pages.guard import guarded

    with guarded("the input part"):
        raise InputError("Batch size: must be at least 1.")
    with guarded("the long part"):
        raise ValueError("x" * 1000)
    st.markdown("the page goes on after a guarded part")


def test_an_input_error_shows_its_own_message_and_a_long_message_is_cut():
    at = AppTest.from_function(app_with_failures).run()
    assert not at.exception
    assert alert_text(at.error[0]) == "Batch size: must be at least 1."
    assert "ValueError: xxx" in alert_text(at.error[1]) and len(alert_text(at.error[1])) < 300
    assert at.markdown[0].value == "the page goes on after a guarded part"


def test_st_stop_still_stops_a_page_without_an_error(app):
    at = app.switch_page("app_pages/compare.py").run()  # no runs: the page says so and stops
    assert not at.exception and not at.error
    assert at.info[0].value.startswith("Compare needs at least two finished runs")


def app_with_control_flow():
    import streamlit as st

    from app_pages.guard import guarded

    def first():
        st.title("first")
        st.session_state["runs"] = st.session_state.get("runs", 0) + 1
        if st.session_state["runs"] == 1:
            st.rerun()
        if st.button("go"):
            st.switch_page(second_page)
        st.stop()
        st.markdown("after st.stop")

    def second():
        st.title("second")

    second_page = st.Page(second, title="second", url_path="second")
    navigation = st.navigation([st.Page(first, title="first", default=True), second_page])
    with guarded("a test app"):
        navigation.run()


def test_st_rerun_st_stop_and_st_switch_page_pass_through_the_guard():
    at = AppTest.from_function(app_with_control_flow).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "first" and at.session_state["runs"] == 2  # st.rerun ran the page again
    assert not at.markdown  # st.stop stopped it
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.title[0].value == "second"  # st.switch_page switched


def test_the_guard_loads_neither_keras_nor_mlflow_so_the_starting_up_note_shows_first():
    """streamlit_app.py shows "Starting up" only while Keras is not loaded, and imports the guard
    before it: a guard that pulled in Keras (as a face importing every module once did) hid the note."""
    code = ("import sys; from app_pages.guard import guarded\n"
            "loaded = {m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow', 'jax', 'mlflow'}\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)

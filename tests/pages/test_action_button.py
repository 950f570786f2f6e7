"""Action buttons: one click starts one thing, even when the browser sends that click again."""

from streamlit.testing.v1 import AppTest

from app_pages.action_button import take_click


def starter_page():
    import streamlit as st

    from app_pages.action_button import action_button

    st.session_state.setdefault("starts", 0)
    st.session_state.setdefault("callbacks", 0)
    if action_button(st, "Start", "demo", on_click=lambda: st.session_state.update(callbacks=st.session_state.callbacks + 1)):
        st.session_state.starts += 1


def test_a_click_is_taken_once_and_moves_the_revision_on():
    state = {}
    assert take_click(state, "launch", 0)
    assert not take_click(state, "launch", 0)  # the same click again
    assert take_click(state, "launch", 1)  # the next one, on the button drawn after the first
    assert state == {"launch.revision": 2}


def test_a_click_starts_once_and_the_same_message_sent_again_starts_nothing():
    at = AppTest.from_function(starter_page).run()
    [button] = at.button
    assert button.key == "demo-0"
    button.click()
    message = at._tree.get_widget_states()  # what the browser sends for this click
    at.run()
    assert (at.session_state.starts, at.session_state.callbacks) == (1, 1)
    assert [button.key for button in at.button] == ["demo-1"]

    at._run(widget_state=message)  # a reconnecting browser sends its last message again
    assert (at.session_state.starts, at.session_state.callbacks) == (1, 1)
    at.run()
    assert (at.session_state.starts, at.session_state.callbacks) == (1, 1)

    at.button[0].click().run()  # a new click on the button as drawn now
    assert (at.session_state.starts, at.session_state.callbacks) == (2, 2)
    assert not at.exception

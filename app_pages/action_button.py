"""Buttons that start something (a run, a search, an ablation): one click, one start.

A browser that reconnects to its session can send its last messages again, and a message carries
every widget's state, a button's click included: the repeated click would start the same run a
second time. So an action button's key carries a revision, which moves on when a click is taken.
A click sent again either reaches the callback of the revision already taken, which ignores it, or
names a button that no longer exists, which Streamlit ignores. A double click is one click too.
"""

from collections.abc import Callable, MutableMapping

import streamlit as st


def take_click(state: MutableMapping, action: str, revision: int) -> bool:
    """Whether a click on `action`'s button drawn at `revision` is new, moving the revision on if so."""
    revision_key = f"{action}.revision"
    if state.get(revision_key, 0) != revision:
        return False  # this click was taken already: the browser sent it again
    state[revision_key] = revision + 1
    return True


def action_button(place, label: str, action: str, on_click: Callable[[], None] | None = None, **button_args) -> bool:
    """Draw the button for `action` in `place` (st or a column). True in the script run that
    follows a click, once per click; `on_click`, if given, runs first, before any widget is drawn
    (so it may change other widgets' values)."""
    taken_key = f"{action}.taken"
    revision = st.session_state.get(f"{action}.revision", 0)

    def take() -> None:
        if not take_click(st.session_state, action, revision):
            return
        st.session_state[taken_key] = True
        if on_click is not None:
            on_click()

    place.button(label, key=f"{action}-{revision}", on_click=take, **button_args)
    return st.session_state.pop(taken_key, False)

"""A page's view in the address bar (Compare, Inspect): read when the address is not the one the page
wrote last (a reload, a shared link), written whenever the view changes. `cnnkit.explorer.view_address`
reads and writes the parameters."""

import streamlit as st

from cnnkit.explorer import view_address


def linked_view(page: str, readers: dict) -> dict:
    """The view the address bar names, when it is not the one `page` wrote there last: after a reload,
    a pasted link or the browser's back button. Else {}: this session's own picks stand."""
    params = st.query_params.to_dict()
    if st.session_state.get(f"{page}.address") == params:
        return {}
    st.session_state[f"{page}.address"] = params
    return view_address.read(params, readers)


def show_view(page: str, values: dict, defaults: dict) -> None:
    """`values` into the address bar (only when they changed), the defaults left out."""
    wanted = view_address.write(values, defaults)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    st.session_state[f"{page}.address"] = wanted


def restore(key: str, value) -> None:
    """Give the widget `key` (drawn with `common.kept_key` or without a default) a linked value."""
    st.session_state[key] = st.session_state[f"{key}.kept"] = value

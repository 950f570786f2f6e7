"""The ways into the Data atlas from the Runs and Compare pages: a run opened there."""

import streamlit as st

from cnnkit.explorer import plain_text

ATLAS_PAGE = "app_pages/atlas.py"


def open_in_atlas(run_id: str) -> None:
    st.session_state["atlas_run"] = run_id
    st.switch_page(ATLAS_PAGE)


def atlas_links(names: dict[str, str]) -> None:
    """A popover with one button per run (run id -> name), each opening that run's data map."""
    with st.popover("Data atlas", icon=":material/scatter_plot:", help="Open a run's data map: its training "
                    "examples by how confidently and stably it learnt them."):
        for run_id, name in names.items():
            if st.button(plain_text.markdown(name), key=f"atlas-link-{run_id}", width="stretch"):
                open_in_atlas(run_id)

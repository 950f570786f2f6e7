"""Inspect's "Train again with these relabelled to the suggestion" under a label-issues table: the run's settings
with the training suspects given their suggested class in Relabel examples (`explorer.relabel_offer`), opened
on the Train page; a caption saying why not for a run's held-out suspects or a dataset that can't be relabelled."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import plain_text, relabel_offer
from app_pages.common import run_store


def show(run_id: str, table) -> None:
    """The button for the suspects in `table` (a label-issues table) of run `run_id`, or why there is none."""
    try:
        offer = relabel_offer.relabel_offer(run_store(), run_id, table)
    except InputError as error:
        st.caption(f"Relabelling: this run's settings can't be loaded: {plain_text.markdown(error)}")
        return
    if offer.values is None:
        st.caption(f"Relabelling: {offer.reason}")
        return
    if st.button(f"Train again with these {offer.count:,} relabelled to the suggestion", icon=":material/edit_note:",
                 key=f"inspect.relabel.{run_id}",
                 help="Open the Train page with this run's settings and these training examples in Relabel examples, "
                      "each given its suggested class: the run writes a corrected copy of the dataset and never "
                      "changes the original; validation and test stay the run's, so Compare pairs the two runs."):
        st.session_state["relaunch_config"] = offer.values
        st.switch_page("app_pages/train.py")

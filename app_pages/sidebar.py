"""What every page's sidebar shows: where runs are stored, what this server trains on and the
device of every queued or running job, refreshed while jobs are active."""

import keras
import streamlit as st

from app_pages import common, narrow_layout
from cnnkit import tracking
from cnnkit.errors import InputError
from cnnkit.explorer import plain_text
from cnnkit.jobs import where_jobs_run
from cnnkit.training import describe_devices


def device_line() -> str:
    return f"Trains on **{describe_devices()}** · Keras on {keras.backend.backend()}"


def devices_panel() -> None:
    """Sidebar: what this server trains on, and the device of every queued or running job."""
    jobs = [job for job in common.job_manager().snapshots() if job.kind == "train" and job.is_active]
    st.caption(device_line())
    st.caption(where_jobs_run(common.job_manager()))
    for job in jobs:
        st.caption(f":material/memory: {plain_text.markdown(job.name)}: {job.device or job.state}")


def sidebar() -> None:
    """What every page's sidebar shows; it refreshes itself while jobs are queued or running.
    When the tracking store can't be opened it says so, and pages that don't need it still work.
    It also carries the layout every page shares at narrow widths (`narrow_layout.NARROW_STYLE`)."""
    st.html(narrow_layout.NARROW_STYLE)
    st.sidebar.html(narrow_layout.CLOSE_SIDEBAR_WHEN_NARROW, unsafe_allow_javascript=True)
    st.sidebar.caption(f":material/database: Runs in {tracking.describe_store()}")  # the login's user, no password
    try:
        active = any(job.is_active for job in common.job_manager().snapshots())
    except InputError as error:  # the store, or the runner's cluster (CNNKIT_RUNNER), can't be used
        st.sidebar.caption(device_line())
        st.sidebar.error(plain_text.markdown(error), icon=":material/database:")
        return
    with st.sidebar:
        st.fragment(devices_panel, run_every=2.0 if active else None)()

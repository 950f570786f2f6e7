"""What every page shares: the process-wide job manager and the MLflow client."""

import streamlit as st

from cnnkit import tracking
from cnnkit.jobs import JobManager


@st.cache_resource
def job_manager() -> JobManager:
    """One manager per server process: jobs outlive reruns, refreshes, page changes and tabs."""
    return JobManager(tracking_uri=tracking.default_tracking_uri())


def mlflow_client():
    return tracking.make_client(job_manager().tracking_uri)


def uploads_dir():
    return tracking.default_store_dir() / "uploads"

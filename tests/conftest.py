"""What several test files share: the app under Streamlit's AppTest on a throwaway store."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture()
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()  # a fresh job manager on this test's store
    yield AppTest.from_file(APP, default_timeout=120)
    from pages.common import job_manager

    job_manager().shutdown()
    st.cache_resource.clear()

"""What several test files share: the app under Streamlit's AppTest on a throwaway store."""

import atexit
import os
import shutil
import tempfile

import pytest
import ray_cluster
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_script import APP

pytest_plugins = ["heavy_first"]  # the order and units in which the two pytest workers take the files
# Tests that crash and resume runs of sub-second epochs need every epoch saved; the default (a save
# at most every 30 s) is tested in tests/training/test_checkpoint.py. Subprocesses inherit it.
os.environ.setdefault("CNNKIT_CHECKPOINT_SECONDS", "0")
# Decoded dataset copies (cnnkit/datasets/decoded_cache.py) go to a folder of this test session,
# not the developer's ~/.cache. Subprocesses (the e2e app, workers) inherit it.
if "CNNKIT_CACHE_DIR" not in os.environ:
    os.environ["CNNKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="cnnkit-decoded-")
    atexit.register(shutil.rmtree, os.environ["CNNKIT_CACHE_DIR"], ignore_errors=True)
# The Ray head's token is named before any test module imports Ray (see tests/ray_cluster.py).
ray_cluster.name_the_token()


@pytest.fixture()
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()  # a fresh job manager on this test's store
    yield AppTest.from_file(APP, default_timeout=120)
    from app_pages.common import job_manager

    job_manager().shutdown()
    st.cache_resource.clear()


@pytest.fixture()
def traces(monkeypatch):
    """Counts of the predict functions Keras traces, per model, from now on.

    Keras runs a model's `predict_step` only while tf.function or jax.jit trace its compiled
    predict function, so a call that reuses a traced function leaves the count alone.
    """
    import keras

    counts: dict[int, int] = {}
    original = keras.Model.predict_step

    def counting(model, *args, **kwargs):
        counts[id(model)] = counts.get(id(model), 0) + 1
        return original(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "predict_step", counting)
    return counts


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory):
    """A store with MLflow's tables made once: creating them takes seconds, copying a file doesn't."""
    from cnnkit.tracking import RunStore

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    RunStore(f"sqlite:///{path}").runs_frame()
    return path


@pytest.fixture
def run_store(tmp_path, empty_store):
    """A `tracking.RunStore` on a fresh copy of the empty store."""
    from cnnkit.tracking import RunStore

    shutil.copy(empty_store, tmp_path / "mlflow.db")
    return RunStore(f"sqlite:///{tmp_path}/mlflow.db")


@pytest.fixture
def client(run_store):
    """`run_store`'s own MLflow client, for tests that look inside the store or count its calls."""
    return run_store._client


@pytest.fixture
def store(tmp_path, empty_store):
    """The URI of a fresh copy of the empty store, not opened yet (its checks are still to come).
    Test files with stores of their own define their own `store`."""
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"

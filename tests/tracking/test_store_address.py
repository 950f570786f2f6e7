"""Where runs go (cnnkit.tracking.store_address): how the store and its user are named for people."""

import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client


def test_where_runs_go_names_the_user_of_a_server_and_never_a_password(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "secret")
    assert tracking.describe_store("http://127.0.0.1:5000") == "http://127.0.0.1:5000 as ada"
    assert tracking.describe_store("sqlite:////data/mlflow.db") == "sqlite:////data/mlflow.db"  # no login there
    assert tracking.describe_store("postgresql+psycopg2://ada:secret@db:5432/mlflow") == \
        "postgresql+psycopg2://ada:***@db:5432/mlflow"
    with pytest.raises(tracking.StoreError) as raised:
        make_client("nosuch://ada:secret@store")
    assert "secret" not in str(raised.value)

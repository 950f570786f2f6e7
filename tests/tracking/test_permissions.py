"""Who may launch runs (cnnkit.tracking.permissions); a server with logins is tested in
tests/tracking/test_team_mode.py."""

from cnnkit import tracking


def test_a_store_without_logins_lets_anyone_launch(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    store = tracking.RunStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    store.check_can_launch()
    assert store.runs_frame().empty  # nothing was created to find out

"""cnnkit.tracking.provenance: MLflow's own user, source and commit tags on every run, read back
through MLflow's own client as its UI reads them."""

import getpass

from mlflow.tracking import MlflowClient

from cnnkit.config import TrainConfig
from cnnkit.tracking import provenance
from cnnkit.tracking.run_lifecycle import git_commit


def test_the_command_line_the_app_and_a_runners_worker_name_their_source():
    assert provenance.source(["/x/cnnkit/__main__.py", "train", "--epochs", "1"]) == ("python -m cnnkit train", "LOCAL")
    assert provenance.source(["/x/cnnkit/__main__.py", "worker", "job.json"]) == ("python -m cnnkit worker", "JOB")
    assert provenance.source(["/x/cnnkit/__main__.py", "--help"]) == ("python -m cnnkit", "LOCAL")
    assert provenance.source(["/venv/bin/streamlit", "run", "streamlit_app.py"]) == ("cnnkit app (streamlit_app.py)", "LOCAL")
    assert provenance.source(["/venv/lib/python3.11/site-packages/streamlit/__main__.py"])[0] == "cnnkit app (streamlit_app.py)"
    assert provenance.source(["my_script.py"]) == ("my_script.py", "LOCAL")


def test_the_user_is_the_team_servers_login_else_this_machines(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    assert provenance.user() == getpass.getuser()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    assert provenance.user() == "ada"


def test_a_commit_is_given_plain_and_an_unknown_one_not_at_all():
    assert provenance.mlflow_tags("abc123-dirty", ["x.py"])["mlflow.source.git.commit"] == "abc123"
    assert "mlflow.source.git.commit" not in provenance.mlflow_tags("unknown", ["x.py"])


def test_every_run_carries_them_as_mlflows_client_reads_them(run_store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    run_id = run_store.start_run(TrainConfig()).run_id
    client = MlflowClient(run_store.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("cnnkit").experiment_id],
                               filter_string="tags.`mlflow.user` = 'ada'")
    assert run.info.run_id == run_id and run.info.user_id == "ada"  # the user MLflow's UI shows
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "LOCAL" and tags["mlflow.source.name"]
    if git_commit() != "unknown":
        assert tags["mlflow.source.git.commit"] == git_commit().removesuffix("-dirty")

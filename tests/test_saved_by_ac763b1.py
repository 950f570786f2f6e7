"""What cnnkit ac763b1 saved (the last version before the package layout, issue 20) still opens,
compares, classifies, exports, resumes and forks with the current code.

The store in tests/fixtures/ac763b1 was written by ac763b1 itself (tests/fixtures/make_ac763b1_store.sh
says how); each test works on a copy. Tag strings are written out here, not imported: they are what
the old store holds, and what the current code must go on reading."""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow import MlflowClient
from PIL import Image

from cnnkit.errors import InputError
from cnnkit.explorer import plain_text
from cnnkit.tracking import RunStore
from cnnkit.tracking.model_registry import OLD_RUN_NOTE

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ac763b1"
MADE = json.loads((FIXTURE / "made.json").read_text())
FINISHED = MADE["finished"]["run_id"]  # 2 epochs: sharpen pre-filter, per-image standardisation, one-cycle, snapshots 1 and 2
STOPPED = MADE["stopped"]["run_id"]  # 3 epochs, cancelled after the first: KILLED with the checkpoint of epoch 1
SEARCH = MADE["search"]["search"]  # 2 Optuna trials over learning_rate
STUDY = MADE["study"]["study_id"]  # an ablation: flip none / horizontal, 1 seed each
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def store(tmp_path) -> str:
    """The fixture's store copied to `tmp_path/store`, its artifact locations moved with it.

    MLflow keeps each experiment's artifact location and each run's artifact URI as absolute
    paths, and has no call that moves them, so the copy's own two columns are rewritten."""
    folder = tmp_path / "store"
    shutil.copytree(FIXTURE, folder)
    made_in = Path(MADE["store_folder_when_made"])
    database = sqlite3.connect(folder / "mlflow.db")
    with database:
        for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
            database.execute(f"UPDATE {table} SET {column} = replace(replace({column}, ?, ?), ?, ?)",
                             (made_in.as_uri(), folder.as_uri(), str(made_in), str(folder)))
    database.close()
    return f"sqlite:///{folder / 'mlflow.db'}"


def search_runs(store: str) -> list[str]:
    """The ids of the search's trial runs, as MLflow finds them by their tag."""
    client = MlflowClient(store)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    return [run.info.run_id for run in client.search_runs(experiments, f"tags.`cnnkit.search` = '{SEARCH}'")]


def cli(store: str, *args: str, cwd: Path) -> str:
    """`python -m cnnkit ARGS --tracking-uri STORE` with the current code; its output (it must succeed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "cnnkit", *args, "--tracking-uri", store], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def cli_result(store: str, *args: str, cwd: Path) -> dict:
    """The last line of a command that ends with one JSON line (train, resume, fork, export)."""
    return json.loads(cli(store, *args, cwd=cwd).strip().splitlines()[-1])


def test_the_copy_reads_its_own_artifacts_not_the_fixtures(store, tmp_path):
    run = MlflowClient(store).get_run(FINISHED)
    assert run.info.artifact_uri == (tmp_path / "store" / "artifacts" / FINISHED / "artifacts").as_uri()


def test_every_run_ac763b1_saved_is_listed_with_its_status(store):
    runs = RunStore(store).runs_frame()
    statuses = dict(zip(runs["run_id"], runs["status"]))
    searched = [MADE["search"]["best_run_id"]]
    assert statuses[FINISHED] == "FINISHED" and statuses[STOPPED] == "KILLED" and statuses[searched[0]] == "FINISHED"
    assert len(statuses) == 6  # finished, stopped, 2 search trials, 2 study runs
    for run_id in statuses:
        assert RunStore(store).run(run_id).tags["cnnkit.git_commit"].startswith("ac763b1")
    assert RunStore(store).run(STOPPED).tags["cnnkit.error"] == "Cancelled by the user."


def test_the_finished_runs_history_and_snapshots_open(store):
    runs = RunStore(store)
    epochs, batches = runs.run_history(FINISHED)
    assert epochs["epoch"].tolist() == [1, 2] and {"loss", "val_accuracy", "lr"} <= set(epochs.columns)
    assert len(batches) == 10 and batches["batch_lr"].notna().all()  # 5 batches an epoch, one-cycle's rate each
    assert runs.config_of_run(FINISHED).schedule == "one_cycle"
    assert runs.snapshot_epochs(FINISHED) == [1, 2]
    assert runs.snapshot_probabilities(FINISHED, 1).shape[1] == 10
    assert runs.load_snapshot_model(FINISHED, 1).optimizer.iterations.numpy() == 5
    evaluation = runs.evaluation_of_run(FINISHED)
    assert evaluation.class_names == [str(digit) for digit in range(10)]
    assert evaluation.confusion.sum() == len(runs.snapshot_probabilities(FINISHED, 2))


def test_the_ablation_runs_compare(store):
    runs = RunStore(store)
    study = runs.ablation_runs(STUDY)
    assert [cell["flip"] for cell in study["cell"]] == ["none", "horizontal"]
    assert (study["status"] == "FINISHED").all()
    pair = study["run_id"].tolist()
    assert runs.params_diff(pair).loc["flip"].tolist() == ["none", "horizontal"]
    assert runs.results_table(pair).shape[0] == 2
    curves = runs.histories(pair)
    assert set(curves["run_id"]) == set(pair)
    assert STUDY in runs.ablations()["ablation_id"].tolist()
    from cnnkit.experiments.ablation_analysis import report

    assert "flip" in report(study, "test_accuracy")


def test_the_cli_reports_the_old_ablation(store, tmp_path):
    printed = cli(store, "ablation-report", STUDY, cwd=tmp_path)
    for cell in RunStore(store).ablation_runs(STUDY)["cell"]:
        assert cell["flip"] in printed


def test_the_model_loads_with_its_registered_layers_checked_by_its_sha256(store, tmp_path):
    runs = RunStore(store)
    downloaded = runs.download_model(FINISHED, tmp_path)
    recorded = runs.run(FINISHED).tags["cnnkit.model_sha256"]
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == recorded
    model = runs.load_model(FINISHED)
    registered = {keras.saving.get_registered_name(type(layer)) for layer in model.layers}
    assert {"cnnkit>KernelFilter", "cnnkit>PerImageStandardization"} <= registered
    assert model.optimizer.get_config()["learning_rate"]["registered_name"] == "cnnkit>OneCycle"
    assert model.optimizer.iterations.numpy() == 10  # 2 epochs of 5 batches: the optimizer's state came back too

    artifact = tmp_path / "store" / "artifacts" / FINISHED / "artifacts" / "model" / "model.keras"
    artifact.write_bytes(artifact.read_bytes() + b"changed")
    with pytest.raises(InputError, match="does not match the checksum recorded"):
        runs.load_model(FINISHED)  # the old run's recorded SHA-256 is checked, not skipped


def test_the_model_classifies_a_digits_image_as_it_did_when_saved(store):
    from cnnkit.models import predict

    runs = RunStore(store)
    model = runs.load_model(FINISHED)
    x_test = runs.test_split_of_run(FINISHED).x_test  # the same test images: their fingerprint is checked
    saved = runs.snapshot_probabilities(FINISHED, 2)  # what ac763b1's model gave them after its last epoch
    now = np.asarray(model.predict(x_test, verbose=0))
    assert np.abs(now - saved).max() < 1e-4

    names = runs.evaluation_of_run(FINISHED).class_names
    png = io.BytesIO()
    Image.fromarray(x_test[0].astype(np.uint8).squeeze(-1)).save(png, format="PNG")
    table = predict.predict_files(model, [("digit.png", png.getvalue())], names, light_on_dark=True)
    assert table["error"].tolist() == [""]
    assert table["predicted"][0] == names[int(saved[0].argmax())]
    assert table["confidence"][0] == pytest.approx(float(saved[0].max()), abs=1e-4)


@pytest.mark.slow
def test_the_finished_run_exports_from_the_cli(store, tmp_path):
    out = tmp_path / "export"
    done = cli_result(store, "export", FINISHED, "--out", str(out), cwd=tmp_path)
    assert done["run_id"] == FINISHED and sorted(done["files"]) == ["MODEL_CARD.md", "model.keras", "model.onnx"]
    assert "checked with onnxruntime" in done["onnx"]
    recorded = RunStore(store).run(FINISHED).tags["cnnkit.model_sha256"]
    assert hashlib.sha256((out / "model.keras").read_bytes()).hexdigest() == recorded
    assert FINISHED in (out / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_the_stopped_run_resumes_from_its_checkpoint_to_finished(store, tmp_path):
    checkpoint = tmp_path / "store" / "checkpoints" / STOPPED
    assert json.loads((checkpoint / "state.json").read_text())["epoch"] == 1
    done = cli_result(store, "resume", STOPPED, cwd=tmp_path)
    assert done["run_id"] == STOPPED and done["status"] == "FINISHED"
    run = MlflowClient(store).get_run(STOPPED)
    assert run.info.status == "FINISHED" and "cnnkit.error" not in run.data.tags
    assert run.data.tags["cnnkit.resumed_from_epoch"] == "1"
    assert sorted(metric.step for metric in MlflowClient(store).get_metric_history(STOPPED, "loss")) == [1, 2, 3]
    assert run.data.metrics["epochs_trained"] == 3 and "test_accuracy" in run.data.metrics
    assert "cnnkit.model_sha256" in run.data.tags and not checkpoint.exists()


@pytest.mark.slow
def test_the_finished_run_forks_from_its_last_snapshot(store, tmp_path):
    done = cli_result(store, "fork", FINISHED, "--epoch", "2", "epochs=3", cwd=tmp_path)
    assert done["status"] == "FINISHED" and done["run_id"] not in (FINISHED, STOPPED)
    fork = MlflowClient(store).get_run(done["run_id"])
    assert fork.data.tags["cnnkit.parent_run"] == FINISHED and fork.data.tags["cnnkit.parent_epoch"] == "2"
    assert sorted(metric.step for metric in MlflowClient(store).get_metric_history(fork.info.run_id, "loss")) == [3]
    assert fork.data.params["schedule"] == "one_cycle" and "test_accuracy" in fork.data.metrics


def test_the_searchs_trials_are_read(store):
    from cnnkit.experiments.search import Searches
    from cnnkit.jobs import JobManager

    jobs = JobManager(tracking_uri=store)
    try:
        searches = Searches(jobs)
        assert searches.interrupted == [] and searches.names() == [SEARCH]
        trials = searches.trials(SEARCH)
        assert [trial.state for trial in trials] == ["COMPLETE", "COMPLETE"]
        runs = RunStore(store)
        for trial in trials:
            assert runs.run(trial.run_id).tags["cnnkit.search"] == SEARCH
            assert runs.run(trial.run_id).tags["cnnkit.search_trial"] == str(trial.number)
        progress = searches.progress(SEARCH)
        assert (progress.total, progress.complete, progress.best_trial) == (2, 2, MADE["search"]["best_trial"])
        assert trials[progress.best_trial].run_id == MADE["search"]["best_run_id"]
        # Loaded as the form gets it: to the 3 significant digits of its log-scaled range (issue 21)
        best_rate = MADE["search"]["best_params"]["learning_rate"]
        assert searches.best_config(SEARCH).learning_rate == pytest.approx(float(f"{best_rate:.3g}"))
        assert searches.spec(SEARCH).base.train_limit == 300
    finally:
        jobs.shutdown()


@pytest.fixture()
def old_app(app, store, monkeypatch):
    """The app (Streamlit's AppTest) on the copy of ac763b1's store."""
    import streamlit as st

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    st.cache_data.clear()
    return app


def test_the_runs_page_opens_the_old_runs_and_offers_to_resume_the_stopped_one(old_app):
    old_app.session_state["open_run"] = FINISHED
    at = old_app.switch_page("app_pages/runs.py").run()
    assert not at.exception and not [button for button in at.button if button.label == "Resume"]
    at.session_state["open_run"] = STOPPED
    at.run()
    assert not at.exception and [button for button in at.button if button.label == "Resume"]


def test_registering_an_old_run_on_the_runs_page_says_mlflow_cant_serve_it(old_app):
    old_app.session_state["open_run"] = FINISHED
    at = old_app.switch_page("app_pages/runs.py").run()
    at.text_input(key=f"register-{FINISHED}").set_value("old-model")
    next(button for button in at.button if button.label == "Register model").click()
    at.run()
    assert not at.exception and [success.value for success in at.success] == [f"Registered as {plain_text.markdown('old-model')} v1."]
    assert [warning.value for warning in at.warning] == [plain_text.markdown(OLD_RUN_NOTE)]
    at.run()  # the next visit keeps saying it, as a caption
    assert not at.warning and plain_text.markdown(OLD_RUN_NOTE) in [caption.value for caption in at.caption]
    assert not [caption.value for caption in at.caption if caption.value.startswith("Serve it")]


def test_the_inspect_page_rewinds_the_finished_run_through_its_snapshots(old_app):
    old_app.session_state["inspect_run"] = FINISHED
    at = old_app.switch_page("app_pages/inspect.py").run()
    assert not at.exception
    slider = at.select_slider(key=f"inspect.epoch.{FINISHED}")
    assert slider.options == ["1", "2 (final)"]  # its last snapshot is the finished run: one stop (issue 21)
    slider.set_value(1).run()
    assert not at.exception


def test_the_compare_page_compares_the_ablation_runs(old_app, store):
    old_app.session_state["compare_runs"] = RunStore(store).ablation_runs(STUDY)["run_id"].tolist()
    at = old_app.switch_page("app_pages/compare.py").run()
    assert not at.exception and at.get("plotly_chart")


def test_the_ablation_page_analyses_the_old_ablation(old_app):
    old_app.session_state["ablation.shown"] = STUDY
    at = old_app.switch_page("app_pages/ablation.py").run()
    assert not at.exception and at.selectbox(key="ablation.analysed").value == STUDY


def test_the_train_pages_search_panel_shows_the_old_searchs_trials(old_app, store):
    at = old_app.switch_page("app_pages/train.py").run()
    assert not at.exception and at.selectbox(key="search.shown").value == SEARCH
    shown = next(frame.value for frame in at.dataframe if "trial" in frame.value.columns)
    assert sorted(shown["run"]) == sorted(search_runs(store)) and len(shown) == 2


def test_the_classify_page_offers_and_opens_the_old_model(old_app):
    at = old_app.switch_page("app_pages/classify.py").run()
    assert not at.exception
    choices = at.selectbox(key="classify.run")
    assert any(FINISHED[:6] in option for option in choices.options)
    choices.set_value(next(option for option in choices.options if FINISHED[:6] in option)).run()
    assert not at.exception and any("Input 8×8×1, 10 classes" in caption.value for caption in at.caption)

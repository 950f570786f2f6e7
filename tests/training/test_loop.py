"""train(): a real (tiny) run on scikit-learn's digits, logged to a temporary MLflow store, from its
params, metrics, artifacts and progress to how it ends (finished, killed, failed) and relaunching it."""

import threading

import numpy as np
import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.config import TrainConfig
from cnnkit.training import train

TINY = dict(dataset="digits", arch="kaggle_mnist_cnn", epochs=1, batch_size=64, seed=7)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def finished(store):
    progress = []
    result = train(TrainConfig(**TINY), tracking_uri=store, on_progress=progress.append)
    return result, progress


def test_a_one_epoch_digits_run_finishes_with_test_metrics(finished):
    result, _ = finished
    assert result.status == "FINISHED", result.error
    for key in ("test_loss", "test_accuracy", "test_top1_accuracy", "test_top3_accuracy", "test_top5_accuracy"):
        assert 0 <= result.metrics[key] <= (1 if "accuracy" in key else 100)
    assert result.metrics["test_accuracy"] == result.metrics["test_top1_accuracy"]
    assert result.metrics["test_top5_accuracy"] >= result.metrics["test_top3_accuracy"] >= result.metrics["test_accuracy"]


def test_the_run_logs_params_epoch_and_batch_metrics_and_provenance(finished, store):
    result, _ = finished
    client = make_client(store)
    run_store = tracking.RunStore(store)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert TrainConfig.from_params(run.data.params) == TrainConfig(**TINY)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "test_accuracy", "test_top5_accuracy"):
        assert key in run.data.metrics, key
    batches = client.get_metric_history(result.run_id, "batch_loss")
    n_train = run_store.load_json_artifact(result.run_id, "dataset/summary.json")["splits"]["train"]
    assert len(batches) == int(np.ceil(n_train / TINY["batch_size"]))
    assert [m.step for m in batches] == list(range(1, len(batches) + 1))
    rates = client.get_metric_history(result.run_id, "batch_lr")  # logged when it changes: once for a constant rate
    assert [(m.step, m.value) for m in rates] == [(1, pytest.approx(TrainConfig().learning_rate))]
    tags = run.data.tags
    for key in ("cnnkit.version", "cnnkit.git_commit", "keras.backend", "keras.version", "cnnkit.data_fingerprint"):
        assert tags.get(key), key


def test_the_run_keeps_evaluation_artifacts_and_a_safe_loading_model(finished, store):
    result, _ = finished
    client = make_client(store)
    run_store = tracking.RunStore(store)
    files = {a.path for a in client.list_artifacts(result.run_id, "evaluation")}
    assert files == {f"evaluation/{name}" for name in ("confusion_matrix.json", "per_class.csv", "mistakes.csv", "mistake_images.npz")}
    confusion = run_store.load_json_artifact(result.run_id, "evaluation/confusion_matrix.json")
    assert confusion["class_names"] == [str(d) for d in range(10)]
    matrix = np.array(confusion["matrix"])
    accuracy = np.trace(matrix) / matrix.sum()
    assert accuracy == pytest.approx(result.metrics["test_accuracy"])
    per_class = run_store.load_table_artifact(result.run_id, "evaluation/per_class.csv")
    assert list(per_class.columns) == ["class", "precision", "recall", "f1", "support"]
    mistakes = run_store.load_table_artifact(result.run_id, "evaluation/mistakes.csv")
    assert len(mistakes) == matrix.sum() - np.trace(matrix)
    assert list(mistakes.columns) == ["index", "true", "predicted", "confidence", "probabilities"]
    assert run_store.load_json_artifact(result.run_id, "dataset/class_names.json") == confusion["class_names"]
    summary = {a.path for a in client.list_artifacts(result.run_id, "model")}
    assert {"model/summary.txt", "model/model.keras"} <= summary

    model = run_store.load_model(result.run_id)
    assert model.input_shape[1:] == (8, 8, 1) and model.output_shape[-1] == 10
    probabilities = model.predict(np.zeros((2, 8, 8, 1), dtype="uint8"), verbose=0)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_progress_reports_every_phase_with_eta(finished):
    _, progress = finished
    phases = [p.phase for p in progress]
    assert phases[0] == "loading data" and phases[-1] == "finished"
    assert {"building model", "training", "evaluating", "saving"} <= set(phases)
    training = [p for p in progress if p.phase == "training"]
    assert training[-1].fraction == pytest.approx(1.0)
    assert all(p.eta_s is not None and p.eta_s >= 0 for p in training)
    batches = [p for p in training if p.event == "batch"]
    points = [point for p in batches for point in p.batch_points]
    assert [step for step, _, _ in points] == list(range(1, len(points) + 1)) and len(points) == training[-1].step
    assert all(p.metrics == {"batch_loss": p.batch_points[-1][1], "batch_lr": p.batch_points[-1][2]} for p in batches)
    assert next(p for p in progress if p.phase == "building model").device.startswith(("CPU", "GPU"))
    epochs = [p for p in training if p.event == "epoch"]
    assert len(epochs) == 1 and {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(epochs[0].metrics)


def test_the_validation_pass_and_the_final_evaluation_report_their_own_batches(finished, store):
    result, progress = finished
    splits = tracking.RunStore(store).load_json_artifact(result.run_id, "dataset/summary.json")["splits"]
    validating = [p for p in progress if p.phase == "validating"]
    batches = int(np.ceil(splits["validation"] / TINY["batch_size"]))
    assert [p.pass_batch for p in validating][:1] == [0] and validating[-1].pass_batch == batches
    assert {(p.pass_batches, p.pass_images, p.epoch, p.event) for p in validating} == {(batches, splits["validation"], 1, "pass")}
    assert validating[-1].describe() == f"validating on {splits['validation']:,} images after epoch 1/1 · batch {batches}/{batches}"
    epoch_end = next(i for i, p in enumerate(progress) if p.event == "epoch")
    assert progress.index(validating[-1]) < epoch_end  # within the epoch, before its metrics
    evaluating = [p for p in progress if p.phase == "evaluating"]
    steps = int(np.ceil(splits["test"] / 256))
    assert [p.pass_batch for p in evaluating][:1] == [0] and evaluating[-1].pass_batch == steps
    assert all(p.pass_batches == steps and p.pass_images == splits["test"] for p in evaluating)
    assert evaluating[-1].pass_fraction == 1.0 and "evaluating on" in evaluating[-1].describe()


def test_relaunching_from_logged_params_sees_the_same_data_and_reproduces_the_run(finished, store):
    result, _ = finished
    client = make_client(store)
    run_store = tracking.RunStore(store)
    again = train(run_store.config_of_run(result.run_id), tracking_uri=store)
    first, second = client.get_run(result.run_id), client.get_run(again.run_id)
    assert first.data.tags["cnnkit.data_fingerprint"] == second.data.tags["cnnkit.data_fingerprint"]
    assert again.metrics["test_loss"] == pytest.approx(result.metrics["test_loss"], rel=1e-4)


def test_cancelling_ends_the_run_killed_and_keeps_every_batch_it_logged(store):
    cancel = threading.Event()
    cancelled_at = []

    def on_progress(progress):
        if progress.event == "batch" and not cancel.is_set():
            cancelled_at.append(progress.step)
            cancel.set()

    cfg = TrainConfig(**{**TINY, "epochs": 50, "batch_size": 16})
    result = train(cfg, tracking_uri=store, cancel=cancel, on_progress=on_progress)
    assert result.status == "KILLED"
    client = make_client(store)
    assert client.get_run(result.run_id).info.status == "KILLED"
    steps = sorted(m.step for m in client.get_metric_history(result.run_id, "batch_loss"))
    assert steps == list(range(1, len(steps) + 1))  # what was logged is kept, in order, without gaps
    assert cancelled_at[0] <= len(steps) < 90  # stopped in its first epoch of 90 batches, not after 50 epochs


def test_a_run_that_raises_ends_failed_with_its_message(store, tmp_path):
    missing = tmp_path / "nope.csv"
    result = train(TrainConfig(dataset="csv", dataset_path=str(missing), epochs=1), tracking_uri=store)
    assert result.status == "FAILED"
    run = make_client(store).get_run(result.run_id)
    assert run.info.status == "FAILED"
    assert "nope.csv" in run.data.tags["cnnkit.error"]


def test_a_scheduled_learning_rate_is_logged_at_every_step(store):
    cfg = TrainConfig(**{**TINY, "schedule": "cyclic", "max_lr": 0.01, "cycle_epochs": 1.0})  # rises all epoch
    result = train(cfg, tracking_uri=store)
    client = make_client(store)
    rates = [m.value for m in sorted(client.get_metric_history(result.run_id, "batch_lr"), key=lambda m: m.step)]
    assert len(rates) == len(client.get_metric_history(result.run_id, "batch_loss"))
    assert np.all(np.diff(rates) > 0)
    assert rates[0] == pytest.approx(cfg.learning_rate) and rates[-1] == pytest.approx(0.01, rel=0.1)




@pytest.mark.slow
def test_a_run_without_some_examples_trains_without_them_and_its_relaunch_on_exactly_the_same(store):
    from cnnkit.config import load_data

    cfg = TrainConfig(**{**TINY, "train_limit": 300, "dynamics_sample": 1000})
    parent = train(cfg, tracking_uri=store)
    run_store = tracking.RunStore(store)
    gone = tuple(run_store.training_dynamics(parent.run_id)["ids"][:25].tolist())  # as the Data atlas names them
    without = train(cfg.replace(exclude_examples=gone), tracking_uri=store)
    relaunched = train(run_store.config_of_run(without.run_id), tracking_uri=store)
    assert parent.status == without.status == relaunched.status == "FINISHED"
    trained_on = {run: set(run_store.training_dynamics(run)["ids"].tolist())
                  for run in (parent.run_id, without.run_id, relaunched.run_id)}
    assert trained_on[without.run_id] == trained_on[parent.run_id] - set(gone) == trained_on[relaunched.run_id]
    assert run_store.config_of_run(relaunched.run_id) == run_store.config_of_run(without.run_id)
    summary = {run: run_store.run(run) for run in (parent.run_id, without.run_id, relaunched.run_id)}
    assert summary[without.run_id].params["exclude_examples"].startswith("25 examples, sha256 ")
    assert summary[without.run_id].data_digest == summary[relaunched.run_id].data_digest != summary[parent.run_id].data_digest
    fingerprint = "cnnkit.test_fingerprint"  # the test split stays the parent's: Compare pairs them
    assert len({found.tags[fingerprint] for found in summary.values()}) == 1
    assert load_data(run_store.config_of_run(without.run_id)).split_counts()["train"] == 275

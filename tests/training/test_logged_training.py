"""Training with mixed precision, weight averaging, test-time flip and several steps per execution:
real tiny digits runs.

Backend-neutral: the suite also runs this file with KERAS_BACKEND=jax (tests/test_jax_backend.py).
"""

import numpy as np
import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.config import TrainConfig
from cnnkit.training import train
from cnnkit.training.tricks import schedule_preview

TINY = dict(dataset="digits", arch="kaggle_mnist_cnn", epochs=2, batch_size=64, seed=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_a_mixed_precision_run_trains_logs_its_precision_and_reloads_with_a_float32_output(store, precision):
    result = train(TrainConfig(**TINY, precision=precision), tracking_uri=store)
    assert result.status == "FINISHED", result.error
    assert result.metrics["test_accuracy"] > 0.3  # learned something in 2 epochs (chance is 0.1)
    client = make_client(store)
    run_store = tracking.RunStore(store)
    run = client.get_run(result.run_id)
    assert run.data.params["precision"] == precision and run.data.tags["cnnkit.device"]
    model = run_store.load_model(result.run_id)
    assert model.get_layer("conv1").dtype_policy.name == precision
    assert model.predict(np.zeros((1, 8, 8, 1)), verbose=0).dtype == np.float32


def test_weight_averaging_finishes_with_the_averaged_weights_and_the_model_saves(store):
    # 0.5 lets the average follow the weights closely enough to classify after two short epochs.
    result = train(TrainConfig(**TINY, ema_momentum=0.5, test_time_flip=True), tracking_uri=store)
    assert result.status == "FINISHED", result.error  # on JAX, saving after EMA once failed ("Array has been deleted")
    model = tracking.RunStore(store).load_model(result.run_id)
    assert model.count_params() > 0 and result.metrics["test_accuracy"] > 0.3


def test_several_steps_per_execution_log_one_batch_loss_per_execution(store):
    cfg = TrainConfig(**TINY, steps_per_execution=4, schedule="one_cycle", max_lr=0.01)
    result = train(cfg, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    client = make_client(store)
    run_store = tracking.RunStore(store)
    n_train = run_store.load_json_artifact(result.run_id, "dataset/summary.json")["splits"]["train"]
    steps_per_epoch = -(-n_train // cfg.batch_size)
    steps = sorted(m.step for m in client.get_metric_history(result.run_id, "batch_loss"))
    per_epoch = list(range(4, steps_per_epoch, 4)) + [steps_per_epoch]
    assert steps == per_epoch + [steps_per_epoch + step for step in per_epoch]
    rates = {m.step: m.value for m in client.get_metric_history(result.run_id, "batch_lr")}
    table = schedule_preview(cfg, steps_per_epoch)
    assert all(rates[step] == pytest.approx(table[step - 1]) for step in steps)


@pytest.mark.slow
def test_runs_log_their_splits_as_mlflow_datasets_whose_digest_follows_the_data_and_its_split(tmp_path):
    """Issue 22, item 5: MLflow itself tells which runs trained on the same data split the same way.
    A store of its own: the module's other runs train on the same data."""
    store = f"sqlite:///{tmp_path}/mlflow.db"
    tiny = dict(TINY, epochs=1)
    results = [train(TrainConfig(**tiny), tracking_uri=store), train(TrainConfig(**tiny), tracking_uri=store),
               train(TrainConfig(**tiny, val_fraction=0.2), tracking_uri=store)]
    assert all(result.status == "FINISHED" for result in results), [result.error for result in results]
    client = make_client(store)
    digests = []
    for result in results:
        inputs = client.get_run(result.run_id).inputs.dataset_inputs
        by_context = {tag.value: found.dataset for found in inputs for tag in found.tags
                      if tag.key == "mlflow.data.context"}
        assert sorted(by_context) == ["testing", "training", "validation"]
        assert by_context["training"].name == "digits/train" and len(by_context["training"].digest) == 16
        digests.append(by_context["training"].digest)
    assert digests[0] == digests[1] != digests[2]
    experiment = client.get_run(results[0].run_id).info.experiment_id
    found = client.search_runs([experiment], f"dataset.digest = '{digests[0]}'")
    assert sorted(run.info.run_id for run in found) == sorted(result.run_id for result in results[:2])


@pytest.mark.slow
def test_a_relabelling_run_trains_on_the_corrected_labels_from_a_copy_and_its_relaunch_on_the_same(store, tmp_path):
    import csv
    import tempfile
    from pathlib import Path

    from sklearn.datasets import load_digits

    from cnnkit.datasets import read_digit_csv
    from cnnkit.tracking import run_schema

    digits = load_digits()
    original = tmp_path / "digits.csv"
    original.write_text("label," + ",".join(f"pixel{i}" for i in range(64)) + "\n" + "".join(
        f"{label}," + ",".join(str(int(v * 255 / 16)) for v in image.ravel()) + "\n"
        for label, image in zip(digits.target[:400], digits.images[:400])))
    before = original.read_bytes(), original.stat().st_mtime_ns
    cfg = TrainConfig(**{**TINY, "dataset": "csv", "dataset_path": str(original), "dynamics_sample": 1000})
    run_store = tracking.RunStore(store)
    parent = train(cfg, tracking_uri=store)
    seen = run_store.training_dynamics(parent.run_id)
    given = dict(zip(seen["ids"].tolist(), seen["labels"].tolist()))
    chosen = sorted(given)[:6]
    new = {example_id: (given[example_id] + 1) % 10 for example_id in chosen}
    relabelled = train(cfg.replace(relabel_examples=tuple(f"{i},{label}" for i, label in new.items())),
                       tracking_uri=store)
    relaunched = train(run_store.config_of_run(relabelled.run_id), tracking_uri=store)
    assert parent.status == relabelled.status == relaunched.status == "FINISHED"

    trained = run_store.training_dynamics(relabelled.run_id)  # the labels the network was given, by id
    assert dict(zip(trained["ids"].tolist(), trained["labels"].tolist())) == {**given, **new}
    assert (original.read_bytes(), original.stat().st_mtime_ns) == before
    summary = {run: run_store.run(run) for run in (parent.run_id, relabelled.run_id, relaunched.run_id)}
    copy = Path(summary[relabelled.run_id].tags[run_schema.RELABELLED_COPY_TAG])
    _, copy_labels = read_digit_csv(str(copy))
    assert [copy_labels[int(i)] for i in chosen] == [new[i] for i in chosen]
    assert summary[relaunched.run_id].tags[run_schema.RELABELLED_COPY_TAG] == str(copy)  # the same copy, found again
    assert summary[relabelled.run_id].params["relabel_examples"].startswith("6 examples, sha256 ")
    with tempfile.TemporaryDirectory() as folder:
        record = Path(make_client(store).download_artifacts(relabelled.run_id, run_schema.RELABELLED_EXAMPLES, folder))
        rows = list(csv.DictReader(record.open()))
    assert [(row["id"], row["old_label"], row["new_label"]) for row in rows] == [
        (i, str(given[i]), str(new[i])) for i in chosen]
    assert summary[relabelled.run_id].data_digest == summary[relaunched.run_id].data_digest != summary[
        parent.run_id].data_digest
    assert len({found.tags[run_schema.TEST_FINGERPRINT_TAG] for found in summary.values()}) == 1
    assert run_store.config_of_run(relaunched.run_id) == run_store.config_of_run(relabelled.run_id)

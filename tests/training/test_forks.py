"""Epoch snapshots and forks end to end on digits: a run keeps its model and test probabilities
every epoch; a fork from epoch 1 starts from them (weights and optimizer state), records its
lineage and continues the parent's epochs; a fork that doesn't fit the weights is refused."""

import numpy as np
import pytest

from cnnkit import cli, tracking
from cnnkit.tracking import run_schema
from cnnkit.training import forks
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.tracking.lineage import Lineage, lineage_of, lineage_tags
from cnnkit.training import fork, train
import cnnkit.training.loop as loop

TINY = TrainConfig(dataset="digits", arch="kaggle_mnist_cnn", epochs=2, batch_size=32, train_limit=300, snapshot_every=1,
                   seed=3)
STEPS_PER_EPOCH = 10  # 300 training images in batches of 32


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """A 2-epoch run with a snapshot after each epoch."""
    store = f"sqlite:///{tmp_path_factory.mktemp('forks') / 'mlflow.db'}"
    result = train(TINY, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    return store, result.run_id


@pytest.mark.slow
def test_a_run_keeps_a_snapshot_of_every_epoch_with_its_test_probabilities(parent):
    store, run_id = parent
    runs = tracking.RunStore(store)
    assert runs.snapshot_epochs(run_id) == [1, 2]
    probabilities = runs.snapshot_probabilities(run_id, 2)
    tests = runs.dataset_summary(run_id)["splits"]["test"]
    assert probabilities.shape == (tests, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-2)  # float16 on disk
    model = runs.load_snapshot_model(run_id, 1)
    assert int(model.optimizer.iterations) == STEPS_PER_EPOCH  # the optimizer's state came with it
    accuracy = runs.run(run_id).metrics[run_schema.TEST_ACCURACY]
    assert np.mean(probabilities.argmax(axis=1) == runs.test_split_of_run(run_id).y_test) == pytest.approx(accuracy)


@pytest.mark.slow
def test_a_fork_from_epoch_1_continues_its_parent(parent):
    store, run_id = parent
    result = fork(run_id, 1, {"rotation": "10"}, tracking_uri=store)
    assert result.status == "FINISHED", result.error
    runs = tracking.RunStore(store)
    child = runs.run(result.run_id)
    assert lineage_of(child.tags) == Lineage(run_id, 1)
    assert runs.config_of_run(result.run_id) == TINY.replace(rotation=10.0)
    fork_epochs, fork_steps = runs.run_history(result.run_id)
    parent_epochs, _ = runs.run_history(run_id)
    assert fork_epochs["epoch"].tolist() == [2]  # it continues the parent's epoch count
    assert fork_steps["step"].min() == STEPS_PER_EPOCH + 1  # ... and its optimizer's step count
    first_loss = parent_epochs.set_index("epoch")[run_schema.LOSS]
    # Trained on from the parent's state, its epoch is like the parent's second, far below a first epoch's loss.
    assert abs(fork_epochs[run_schema.LOSS].iloc[0] - first_loss[2]) < 0.5 * (first_loss[1] - first_loss[2])
    assert runs.snapshot_epochs(result.run_id) == [2]
    parent_clock = parent_epochs.set_index("epoch")[run_schema.ELAPSED_SECONDS][1]  # its clock goes on from the parent's
    assert fork_epochs[run_schema.ELAPSED_SECONDS].iloc[0] == pytest.approx(
        parent_clock + fork_epochs[run_schema.EPOCH_SECONDS].iloc[0])


def test_a_fork_starts_from_its_parents_clock_and_the_thresholds_it_had_reached(tmp_path):
    runs = tracking.RunStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    logger = runs.start_run(TINY)
    for epoch, (accuracy, elapsed) in enumerate([(0.5, 10.0), (0.91, 25.0), (0.96, 40.0), (0.99, 55.0)], start=1):
        logger.log_metrics({run_schema.VAL_ACCURACY: accuracy, run_schema.ELAPSED_SECONDS: elapsed}, step=epoch)
    logger.finish("FINISHED")
    assert loop._parent_clock(runs, logger.run_id, 3) == {"monitor": {
        "latest": {run_schema.ELAPSED_SECONDS: 40.0},
        "reached": {"time_to_val_acc_90": 25.0, "time_to_val_acc_95": 40.0}}}
    old = runs.start_run(TINY)  # logged before elapsed_s: no clock to go on from
    old.log_metrics({run_schema.VAL_ACCURACY: 0.99}, step=1)
    old.finish("FINISHED")
    assert loop._parent_clock(runs, old.run_id, 1) == {}


def test_a_fork_that_does_not_fit_the_weights_is_refused_naming_the_label():
    with pytest.raises(InputError, match="“Architecture”") as refused:
        forks.fork_config(TINY, 1, {"arch": "mnist_cnn"})
    assert refused.value.field == "arch"
    with pytest.raises(InputError, match="“Width multiplier”"):
        forks.fork_config(TINY, 1, {"width": "2"})
    with pytest.raises(InputError, match="“Dataset”"):
        forks.fork_config(TINY, 1, {"dataset": "mnist"})
    with pytest.raises(InputError, match="“Epochs”.*more than 2"):
        forks.fork_config(TINY, 2, {})
    with pytest.raises(InputError, match="Weight averaging"):
        forks.fork_config(TINY, 1, {"ema_momentum": "0.99"})
    assert forks.fork_config(TINY, 1, {"learning_rate": "1e-4", "flip": "horizontal"}).learning_rate == 1e-4


def test_the_cli_refuses_a_fork_of_a_run_without_that_snapshot(parent, capsys):
    store, run_id = parent
    assert cli.main(["fork", run_id, "--epoch", "3", "--tracking-uri", store]) == 2
    assert "has no snapshot after epoch 3; it has 1, 2" in capsys.readouterr().err
    assert cli.main(["fork", run_id, "--epoch", "1", "arch=mnist_cnn", "--tracking-uri", store]) == 2
    assert "“Architecture”" in capsys.readouterr().err


def test_lineage_tags_read_back_and_parent_curves_join_the_fork():
    import pandas as pd

    assert lineage_of(lineage_tags("a" * 32, 3)) == Lineage("a" * 32, 3)
    assert lineage_of({}) is None
    parents = pd.DataFrame({"run_id": ["p"] * 3, "run": ["parent"] * 3, "epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.0]})
    history = pd.DataFrame({"run_id": ["f"], "run": ["fork"], "epoch": [3], "loss": [1.5]})
    joined, continued = forks.with_parent_curves(history, {"f": ("fork", Lineage("p", 2))}, parents)
    assert continued == {"fork ← parent ≤ 2": "fork"}
    assert joined[joined["run"] == "fork ← parent ≤ 2"]["epoch"].tolist() == [1, 2]
    assert joined[joined["run"] == "fork"]["epoch"].tolist() == [3]

"""A run's randomness comes from its own seed only: two identical jobs training at the same time in
the app's thread runner, two identical search trials at once and a re-run end with the same weights.

Backend-neutral: the suite also runs this file with KERAS_BACKEND=jax (tests/test_jax_backend.py).
"""

import random

import keras
import numpy as np
import optuna
import pytest

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.experiments import search
from cnnkit.jobs import JobManager
from cnnkit.training.seeding import ShuffledBatches, epoch_order

TIMEOUT = 600
# Dropout (kaggle_mnist_cnn's 0.2), augmentation and shuffling all draw random numbers every step.
CFG = TrainConfig(dataset="digits", arch="kaggle_mnist_cnn", epochs=2, batch_size=32, train_limit=300,
                  rotation=10.0, translate=0.1, seed=5)


def test_an_epochs_order_is_a_permutation_from_the_seed_and_epoch_alone():
    np.random.seed(1)
    order = epoch_order(5, 2, 50)
    np.random.seed(2)  # NumPy's process-wide generator, which Keras' own shuffling on JAX draws from
    assert np.array_equal(epoch_order(5, 2, 50), order)
    assert sorted(order) == list(range(50))
    assert not np.array_equal(epoch_order(5, 3, 50), order) and not np.array_equal(epoch_order(6, 2, 50), order)


def test_batches_hold_each_image_once_per_epoch_in_that_epochs_order():
    x, y = np.arange(10) * 10, np.arange(10)
    batches = ShuffledBatches(x, y, batch_size=4, seed=5)
    assert len(batches) == 3
    batches.begin_epoch(2)
    epoch = [batches[i] for i in range(3)]
    assert [len(images) for images, _ in epoch] == [4, 4, 2]
    order = np.concatenate([labels for _, labels in epoch])
    assert np.array_equal(order, epoch_order(5, 2, 10))
    assert np.array_equal(np.concatenate([images for images, _ in epoch]), order * 10)  # images beside their labels


def tiny_classifier() -> keras.Model:
    dense = keras.layers.Dense(3, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(1))
    model = keras.Sequential([keras.Input((4,)), dense])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    return model


@pytest.mark.parametrize("initial_epoch", [0, 1])
def test_fit_sees_each_epoch_in_its_order_as_fitting_the_reordered_arrays_epoch_by_epoch_does(initial_epoch):
    data = np.random.default_rng(0)
    x, y = data.normal(size=(40, 4)).astype("float32"), np.eye(3, dtype="float32")[data.integers(3, size=40)]
    shuffled, batches = tiny_classifier(), ShuffledBatches(x, y, 8, seed=5)
    shuffled.fit(batches, initial_epoch=initial_epoch, epochs=4, shuffle=False, verbose=0,
                 callbacks=[batches.orderer()])
    by_hand = tiny_classifier()
    for epoch in range(initial_epoch, 4):  # the order in which each batch's step changes the weights matters
        order = epoch_order(5, epoch, 40)
        by_hand.fit(x[order], y[order], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(shuffled.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.fixture
def store(tmp_path):
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def weights(store: str, run_id: str) -> list[np.ndarray]:
    return tracking.RunStore(store).load_model(run_id).get_weights()


def assert_same_run(store: str, first, second) -> None:
    assert first.state == second.state == "finished", (first.error, second.error)
    assert first.result.metrics == second.result.metrics
    for a, b in zip(weights(store, first.run_id), weights(store, second.run_id), strict=True):
        np.testing.assert_array_equal(a, b)


def scramble_global_generators(seed: int) -> None:
    """What another job or library may do to the process-wide generators between two runs."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.random.uniform((1,))  # advances this thread's global Keras generator


@pytest.mark.slow
def test_two_identical_jobs_at_once_and_a_rerun_end_with_the_same_weights(store):
    manager = JobManager(tracking_uri=store, max_concurrent=2, recover_stale_runs=False)
    try:
        jobs = [manager.submit(CFG, f"twin {n}") for n in (1, 2)]
        assert [job.state for job in manager.snapshots()] == ["running", "running"]  # both at once
        first, second = (manager.wait(job, TIMEOUT) for job in jobs)
        assert_same_run(store, first, second)
        scramble_global_generators(123)
        rerun = manager.wait(manager.submit(CFG, "rerun"), TIMEOUT)
        assert_same_run(store, first, rerun)
    finally:
        manager.shutdown()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # PartialFixedSampler
def test_two_search_trials_of_the_same_settings_at_once_end_with_the_same_weights(store):
    manager = JobManager(tracking_uri=store, max_concurrent=2, recover_stale_runs=False)
    try:
        searches = search.Searches(manager)
        spec = search.SearchSpec(CFG.replace(epochs=1), (search.parse_range("optimizer=adam,sgd"),), trials=2,
                                 parallel=2)
        always_adam = optuna.samplers.PartialFixedSampler({"optimizer": "adam"}, optuna.samplers.RandomSampler(0))
        name = searches.start(spec, sampler=always_adam, pruner=optuna.pruners.NopPruner())
        assert searches.progress(name).running == 2  # both at once
        assert searches.wait(name, TIMEOUT).ended == 2
        runs = [trial.run_id for trial in searches.trials(name)]
        ended = {job.run_id: job for job in manager.snapshots()}
        assert_same_run(store, ended[runs[0]], ended[runs[1]])
    finally:
        manager.shutdown()

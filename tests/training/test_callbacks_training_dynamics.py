"""TrainingDynamics: after every epoch, p(label) and the predicted class of a fixed sample of training
examples, equal to what the model predicts at that epoch, logged compactly once fit ends; training's own
randomness untouched; a run with the setting off logs none."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.tracking import run_schema
from cnnkit.training import train
from cnnkit.training.callbacks import TrainingDynamics
from cnnkit.training.callbacks.training_dynamics import sample_positions


def digits(count=200):
    data = load_digits()
    return data.images[:count, ..., None].astype("float32") / 16, data.target[:count]


def tiny_digits_model() -> keras.Model:
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dropout(0.2),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
    return model


class AfterEachEpoch(keras.callbacks.Callback):
    """What model.predict gives the sample's images after each epoch (it runs after TrainingDynamics)."""

    def __init__(self, images):
        super().__init__()
        self.images, self.seen = images, []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(self.model.predict(self.images, verbose=0))


def fit(x, y, extra=(), seed=0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = tiny_digits_model()
    model.fit(x, np.eye(10)[y], batch_size=32, epochs=3, shuffle=True, verbose=0, callbacks=list(extra))
    return model


def test_each_epochs_label_probabilities_and_predictions_are_what_the_model_predicts_then():
    x, y = digits()
    chosen = sample_positions(len(y), 50, seed=1)
    logged = {}
    dynamics = TrainingDynamics(x[chosen], y[chosen], np.array([f"id{i}" for i in chosen]), len(y),
                                lambda model, images: model.predict(images, verbose=0),
                                lambda arrays, name: logged.update({name: arrays}))
    check = AfterEachEpoch(x[chosen])
    fit(x, y, [dynamics, check])
    arrays = logged[run_schema.TRAINING_DYNAMICS]
    assert arrays["label_probability"].dtype == np.float16 and arrays["label_probability"].shape == (3, 50)
    assert arrays["predicted"].dtype == np.uint8 and arrays["predicted"].shape == (3, 50)
    expected = np.stack([probabilities[np.arange(50), y[chosen]] for probabilities in check.seen])
    np.testing.assert_allclose(arrays["label_probability"], expected, atol=1e-3)
    assert np.array_equal(arrays["predicted"], np.stack([p.argmax(axis=1) for p in check.seen]))
    assert arrays["epochs"].tolist() == [1, 2, 3] and int(arrays["training_size"]) == 200
    assert arrays["ids"].tolist() == [f"id{i}" for i in chosen] and np.array_equal(arrays["labels"], y[chosen])
    assert not np.allclose(expected[0], expected[-1])  # the epochs differ: each is recorded when it ends


def test_recording_leaves_training_as_it_would_have_been():
    x, y = digits()
    without = fit(x, y, seed=4)
    recorded = TrainingDynamics(x, y, np.arange(len(y)).astype(str), len(y),
                                lambda model, images: model.predict(images, verbose=0), lambda arrays, name: None)
    with_it = fit(x, y, [recorded], seed=4)
    for a, b in zip(without.get_weights(), with_it.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_sample_is_fixed_by_the_seed_drawn_apart_from_the_global_generators():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    first, again = sample_positions(1000, 100, seed=3), sample_positions(1000, 100, seed=3)
    assert np.array_equal(first, again) and len(set(first)) == 100 and np.all(np.diff(first) > 0)
    assert not np.array_equal(first, sample_positions(1000, 100, seed=4))
    assert np.array_equal(np.random.get_state()[1], before)
    assert sample_positions(30, 100, seed=3).tolist() == list(range(30))


def test_no_epoch_ended_logs_nothing():
    logged = {}
    dynamics = TrainingDynamics(*digits(4), np.arange(4).astype(str), 4, None, lambda arrays, name: logged.update({name: 1}))
    dynamics.on_train_end()
    assert logged == {}


@pytest.mark.slow
def test_a_run_keeps_its_sample_with_the_run_and_a_run_with_the_setting_off_keeps_none(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tiny = dict(dataset="digits", arch="kaggle_mnist_cnn", epochs=2, batch_size=64, seed=3)
    on = train(TrainConfig(**tiny, dynamics_sample=300), tracking_uri=uri)
    off = train(TrainConfig(**tiny, dynamics_sample=0), tracking_uri=uri)
    assert on.status == off.status == "FINISHED"
    store = tracking.RunStore(uri)
    arrays = store.training_dynamics(on.run_id)
    assert arrays["label_probability"].shape == (2, 300) and arrays["epochs"].tolist() == [1, 2]
    assert store.training_dynamics(off.run_id) is None
    assert store.run(on.run_id).params["dynamics_sample"] == "300"

"""The embedding view's numbers (cnnkit.explorer.embedding): PCA equal to scikit-learn's up to sign, and
a run's points with their labels, predictions and flags."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from cnnkit.explorer import embedding
from cnnkit.models import predict


def test_pca_equals_sklearns_up_to_sign():
    x = load_digits().data[:500]
    ours, theirs = embedding.pca_2d(x), PCA(n_components=2).fit_transform(x)
    assert ours.shape == (500, 2)
    signs = np.sign((ours * theirs).sum(axis=0))
    assert ours * signs == pytest.approx(theirs, abs=1e-8)


def test_pca_of_too_few_points_or_dimensions():
    assert embedding.pca_2d(np.ones((1, 5))).tolist() == [[0, 0]]
    one_axis = embedding.pca_2d(np.array([[0.0], [2.0]]))  # one dimension: the second coordinate is 0
    assert np.abs(one_axis).tolist() == [[1, 0], [1, 0]] and one_axis[:, 0].sum() == 0


def test_a_runs_points_carry_label_prediction_correctness_and_flags():
    inputs = keras.Input((2, 2, 1))
    hidden = keras.layers.Dense(4, "relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    images = np.random.default_rng(0).uniform(0, 255, (30, 2, 2, 1)).astype("float32")
    labels = np.arange(30) % 2
    points = embedding.embedding_of_run(model, images, labels, ("a", "b"), flagged=[0, 10, 29], limit=11)
    assert points["position"].tolist() == predict.evenly_spread(30, 11).tolist()
    predicted = model.predict_on_batch(images[points["position"]]).argmax(axis=1)
    assert points["prediction"].tolist() == [("a", "b")[p] for p in predicted]
    assert points["label"].tolist() == [("a", "b")[c] for c in labels[points["position"]]]
    assert (points["correct"] == "right").tolist() == (predicted == labels[points["position"]]).tolist()
    assert points.loc[points["flagged"] == "suspected", "position"].tolist() == [p for p in points["position"]
                                                                                 if p in (0, 10, 29)]
    assert points[["x", "y"]].to_numpy().shape == (len(points), 2)

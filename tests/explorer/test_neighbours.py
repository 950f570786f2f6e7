"""Near-duplicates and outliers (cnnkit.explorer.neighbours): planted duplicates across training and
test are found, a planted noise image is the first outlier, and the blocked computation agrees with
scikit-learn's nearest neighbours and with a brute-force pair search."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from cnnkit.explorer import neighbours
from cnnkit.models import predict


def clustered(count: int, seed: int, dimensions: int = 16) -> np.ndarray:
    """Points around 4 centres, as a trained network's features of 4 classes lie."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, dimensions)) * 3
    return np.abs(centres[rng.integers(0, 4, count)] + rng.normal(size=(count, dimensions)))


def features(vectors, positions=None) -> neighbours.Features:
    positions = np.arange(len(vectors)) if positions is None else np.asarray(positions)
    return neighbours.Features(positions, predict.unit_length(vectors))


@pytest.fixture()
def small_blocks(monkeypatch):
    monkeypatch.setattr(neighbours, "BLOCK", 7)  # several blocks, the last one short


def test_duplicates_planted_across_training_and_test_are_found(small_blocks):
    train, test = clustered(300, 0), clustered(60, 1)
    planted = {(12, 5), (250, 33), (77, 59)}  # (training position, test position)
    rng = np.random.default_rng(2)
    for t, s in planted:
        test[s] = train[t] + rng.normal(scale=1e-3, size=train.shape[1])
    pairs = neighbours.similar_pairs(features(train), features(test), threshold=0.9999)
    assert set(zip(pairs["first"], pairs["second"])) == planted
    assert (pairs["similarity"] > 0.9999).all() and pairs["similarity"].is_monotonic_decreasing


def test_pairs_within_a_split_are_each_counted_once_and_match_brute_force(small_blocks):
    vectors = clustered(40, 3)
    vectors[30] = vectors[4] * 2  # the same direction: similarity 1
    unit = predict.unit_length(vectors)
    pairs = neighbours.similar_pairs(features(vectors, np.arange(100, 140)), threshold=0.97, top=1000)
    brute = {(i + 100, j + 100) for i in range(40) for j in range(i + 1, 40) if unit[i] @ unit[j] >= 0.97}
    assert set(zip(pairs["first"], pairs["second"])) == brute and len(pairs) == len(brute)
    assert (pairs.iloc[0]["first"], pairs.iloc[0]["second"]) == (104, 130)
    assert pairs.iloc[0]["similarity"] == pytest.approx(1)


def test_a_planted_noise_image_is_the_first_outlier_and_scores_match_sklearn(small_blocks):
    vectors = clustered(200, 4)
    vectors[123] = np.random.default_rng(5).uniform(size=vectors.shape[1])  # unlike any centre
    found = neighbours.outliers(features(vectors), k=5, top=200)
    assert found.iloc[0]["position"] == 123
    distances, _ = NearestNeighbors(n_neighbors=6, metric="cosine").fit(vectors).kneighbors(vectors)
    expected = 1 - distances[:, 1:].mean(axis=1)  # the first neighbour is the image itself
    assert found.set_index("position")["similarity"].sort_index().to_numpy() == pytest.approx(expected)


def test_too_few_images_give_empty_tables():
    one = features(np.ones((1, 3)))
    assert neighbours.outliers(one).empty and neighbours.similar_pairs(one).empty
    assert neighbours.similar_pairs(one, features(np.ones((0, 3)))).empty


def test_features_come_from_the_softmax_input_of_evenly_spread_images():
    import keras

    inputs = keras.Input((4, 4, 1))
    hidden_layer = keras.layers.Dense(3, "relu")
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden_layer(keras.layers.Flatten()(inputs))))
    images = np.random.default_rng(6).uniform(0, 255, (50, 4, 4, 1)).astype("float32")
    found = neighbours.features_of(model, images, limit=5)
    assert found.positions.tolist() == [0, 12, 24, 37, 49]
    hidden = keras.Model(inputs, hidden_layer.output).predict_on_batch(images[found.positions])
    assert found.vectors == pytest.approx(predict.unit_length(hidden), abs=1e-6)

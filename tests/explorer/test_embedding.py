"""The embedding view's numbers (cnnkit.explorer.embedding): PCA equal to scikit-learn's up to sign,
UMAP the same for a seed and truer to neighbourhoods than PCA (scikit-learn's trustworthiness), and a
run's points with their labels, predictions and flags."""

import os
import sys
import tempfile

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness

from cnnkit.errors import InputError

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
    run = embedding.embedding_of_run(model, images, labels, ("a", "b"), flagged=[0, 10, 29], limit=11)
    assert run.features.shape == (11, 4)  # the hidden layer's outputs, what the softmax layer reads
    points = run.placed(embedding.pca_2d(run.features))
    assert points["position"].tolist() == predict.evenly_spread(30, 11).tolist()
    predicted = model.predict_on_batch(images[points["position"]]).argmax(axis=1)
    assert points["prediction"].tolist() == [("a", "b")[p] for p in predicted]
    assert points["label"].tolist() == [("a", "b")[c] for c in labels[points["position"]]]
    assert (points["correct"] == "right").tolist() == (predicted == labels[points["position"]]).tolist()
    assert points.loc[points["flagged"] == "suspected", "position"].tolist() == [p for p in points["position"]
                                                                                 if p in (0, 10, 29)]
    assert points[["x", "y"]].to_numpy().shape == (len(points), 2)


@pytest.mark.slow  # numba compiles UMAP's code on a process's first call: about 15-40 s
def test_umap_is_the_same_for_a_seed_and_keeps_neighbours_better_than_pca():
    pixels = load_digits().data[:400]
    placed = embedding.umap_2d(pixels)
    assert placed.shape == (400, 2) and placed.dtype == np.float64
    assert np.array_equal(placed, embedding.umap_2d(pixels))
    # measured: UMAP 0.986, PCA 0.87 (400 digits, 10 neighbours, cosine as UMAP is given it)
    kept, by_pca = (trustworthiness(pixels, xy, n_neighbors=10, metric="cosine")
                    for xy in (placed, embedding.pca_2d(pixels)))
    assert kept > 0.95 and kept > by_pca + 0.05


def test_umap_of_fewer_than_four_points_is_pca():
    three = np.array([[0.0, 1.0], [1.0, 0.0], [3.0, 3.0]])
    assert embedding.umap_2d(three).tolist() == embedding.pca_2d(three).tolist()


def test_without_umap_learn_umap_is_refused_naming_pca(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "umap", None)  # what `import umap` finds where it is not installed
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")  # so that monkeypatch puts it back as it was after the test
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(InputError, match="umap-learn, which is not installed.*PCA shows the same features"):
        embedding.umap_2d(np.eye(5))
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "cnnkit" / "numba")  # before numba is imported


def test_numba_caches_in_cnnkits_folder_or_else_the_temporary_one(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert embedding.numba_cache_dir() == tmp_path / "cache" / "cnnkit" / "numba"
    assert (tmp_path / "cache" / "cnnkit" / "numba").is_dir()
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a folder can't be made under a file
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert embedding.numba_cache_dir().parent == tmp_path / "tmp"

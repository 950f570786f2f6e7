"""Seeds for the random layers an architecture builds: drawn from the build's seed in build order,
per thread, and into every initializer and dropout layer of every architecture."""

import random
import threading

import keras
import numpy as np
import pytest

from cnnkit.models.architectures import ARCHITECTURES, Knobs, build_model
from cnnkit.models.layer_seeds import layer_seeds, next_seed


def test_seeds_are_drawn_in_order_from_the_seed_and_none_outside():
    expected = np.random.default_rng(7).integers(2**31, size=3).tolist()  # numpy's generator of 7, independently
    assert next_seed() is None
    with layer_seeds(7):
        assert [next_seed() for _ in range(3)] == expected
        with layer_seeds(None):
            assert next_seed() is None
        assert next_seed() == np.random.default_rng(7).integers(2**31, size=4).tolist()[3]  # the outer sequence goes on
    assert next_seed() is None


def test_another_threads_seeds_neither_share_nor_advance_this_ones():
    drawn = []

    def other_build():
        with layer_seeds(7):
            drawn.append(next_seed())

    with layer_seeds(7):
        first = next_seed()
        thread = threading.Thread(target=other_build)
        thread.start()
        thread.join()
        second = next_seed()
    assert drawn == [first] and [first, second] == np.random.default_rng(7).integers(2**31, size=2).tolist()


def seeded(layer) -> list:
    """The seeds of `layer`'s random parts, as its saved config holds them."""
    config = layer.get_config()
    if isinstance(layer, keras.layers.Dropout):
        return [config["seed"]]
    return [config["kernel_initializer"]["config"]["seed"]] if "kernel_initializer" in config else []


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_architecture_seeds_each_initializer_and_dropout_layer(name):
    knobs = Knobs(dropout_scale=1.0, width=0.25)  # dropout on everywhere it can be (ResNet's too), small and quick
    model = build_model(name, (32, 32, 3), 10, knobs, seed=3)
    seeds = [seed for layer in model.layers for seed in seeded(layer)]
    assert seeds and None not in seeds
    assert len(set(seeds)) == len(seeds)  # no two layers draw the same numbers
    assert any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)


def test_the_same_seed_gives_the_same_weights_whatever_pythons_random_did_meanwhile():
    def built(python_seed, seed):
        random.seed(python_seed)  # as another job may, reseeding the process-wide generator
        return build_model("kaggle_mnist_cnn", (8, 8, 1), 10, seed=seed).get_weights()

    first, again, other = built(1, seed=4), built(2, seed=4), built(1, seed=5)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    unseeded = built(1, seed=None), built(2, seed=None)  # what the seed protects from: Keras draws from `random`
    assert not np.array_equal(unseeded[0][0], unseeded[1][0])

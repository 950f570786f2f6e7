"""Seeds for the random layers an architecture builds: inside `layer_seeds(seed)`, each initializer
and dropout layer gets its own seed, drawn in build order from a generator of `seed` that belongs to
the building thread. Unseeded, Keras draws them from Python's process-wide `random`, which models
built at the same time in other threads (concurrent jobs) share and advance."""

from __future__ import annotations

import contextlib
import threading

import keras
import numpy as np

_building = threading.local()


@contextlib.contextmanager
def layer_seeds(seed: int | None):
    """Layers built inside get seeds drawn from `seed`; None: unseeded, as Keras leaves them."""
    previous = getattr(_building, "generator", None)
    _building.generator = None if seed is None else np.random.default_rng(seed)
    try:
        yield
    finally:
        _building.generator = previous


def next_seed() -> int | None:
    """The next layer's seed (below 2**31, as every backend takes), or None outside `layer_seeds`."""
    generator = getattr(_building, "generator", None)
    return None if generator is None else int(generator.integers(2**31))


def kernel_initializer() -> keras.initializers.Initializer:
    """Keras' default kernel initializer (Glorot uniform) with the next seed."""
    return keras.initializers.GlorotUniform(seed=next_seed())

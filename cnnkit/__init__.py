"""cnnkit: run, watch and understand CNN image-classification experiments."""

import importlib.util
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the CLI and logs
if "KERAS_BACKEND" not in os.environ and not importlib.util.find_spec("tensorflow") and importlib.util.find_spec("jax"):
    # The GPU install has JAX and no TensorFlow, Keras' default backend: use what is there.
    os.environ["KERAS_BACKEND"] = "jax"

__version__ = "0.1.0"

from cnnkit.errors import InputError  # noqa: E402

__all__ = ["InputError", "__version__"]

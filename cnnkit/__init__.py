"""cnnkit: run, watch and understand CNN image-classification experiments."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the CLI and logs

__version__ = "0.1.0"

from cnnkit.errors import InputError  # noqa: E402

__all__ = ["InputError", "__version__"]

"""What trains: the devices the Keras backend sees, and letting concurrent jobs share a GPU.

The only module with backend-specific code. Each backend is imported inside its own branch,
so only the one Keras runs on is ever loaded.
"""

from __future__ import annotations

import logging
import os

import keras

log = logging.getLogger(__name__)


def gpu_names() -> list[str]:
    """The names of the GPUs the Keras backend can use, e.g. ["NVIDIA H100 80GB HBM3"]."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
                for gpu in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def describe_devices() -> str:
    """One line for the UI: "GPU: <name>, <name>" or "CPU (<n> cores)"."""
    names = gpu_names()
    if names:
        return "GPU: " + ", ".join(names)
    return f"CPU ({cpu_cores()} cores)"


def cpu_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells, else all of them)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def enable_memory_growth() -> None:
    """Let concurrent jobs share a GPU: take its memory as needed, not all of it up front.

    Idempotent. TensorFlow fixes the setting once it has initialised its devices (any op run
    before this call); that is logged, not raised. JAX reads XLA_PYTHON_CLIENT_PREALLOCATE only
    when it first creates its GPU client, so it works only before JAX has touched a GPU; an
    existing value is kept. Torch allocates on demand already.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError as error:
                log.warning("Could not enable memory growth on %s (devices already initialised): %s", gpu.name, error)
    elif backend == "jax":
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

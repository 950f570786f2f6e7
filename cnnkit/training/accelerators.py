"""What trains: the devices the Keras backend sees, spreading a run over several of them, and
letting concurrent jobs share a GPU.

The only module with backend-specific code. Each backend is imported inside its own branch,
so only the one Keras runs on is ever loaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import keras

from cnnkit.config import setting_error

log = logging.getLogger(__name__)

DATA_PARALLEL_BACKENDS = ("jax", "tensorflow")


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


def describe_devices(count: int = 1) -> str:
    """One line for the UI: "GPU: <name>, <name>" or "CPU (<n> cores)"; for a run spread over
    `count` > 1 devices, "<count> × GPU: <name>" or "<count> × CPU"."""
    names = gpu_names()
    if count > 1:
        return f"{count} × GPU: {', '.join(dict.fromkeys(names[:count]))}" if names else f"{count} × CPU"
    if names:
        return "GPU: " + ", ".join(names)
    return f"CPU ({cpu_cores()} cores)"


def local_devices() -> list[str]:
    """The devices a run can be spread over, e.g. ["gpu:0", "gpu:1"]: the GPUs (or TPUs), else the
    CPUs the backend presents (one, unless XLA_FLAGS or TensorFlow's logical devices split it)."""
    if keras.backend.backend() not in DATA_PARALLEL_BACKENDS:
        return []
    return keras.distribution.list_devices()


def check_device_count(count: int) -> None:
    """InputError naming the Devices setting when this server can't spread a run over `count` devices."""
    if count == 1:
        return
    backend = keras.backend.backend()
    if backend not in DATA_PARALLEL_BACKENDS:
        raise setting_error("devices", f"training on several devices needs Keras on JAX or TensorFlow, and this server "
                                       f"runs Keras on {backend}: use 1.")
    available = local_devices()
    if count > len(available):
        raise setting_error("devices", f"{count} asked for, but this server has {len(available)} "
                                       f"({', '.join(available)}).")


@contextlib.contextmanager
def data_parallel(count: int) -> Iterator[None]:
    """Inside: models built, compiled, trained and run are copied to the first `count` local devices,
    and each batch is split evenly among them (its size must be a multiple of `count`). On JAX this
    is a Keras `DataParallel` distribution, on TensorFlow a `MirroredStrategy`; both scopes hold
    for the calling thread only, so concurrent jobs each keep their own. `count` 1 changes nothing.
    InputError (see `check_device_count`) when there are not that many devices."""
    check_device_count(count)
    if count == 1:
        yield
        return
    devices = local_devices()[:count]
    if keras.backend.backend() == "jax":
        with keras.distribution.DataParallel(devices=devices).scope():
            yield
    else:
        import tensorflow as tf

        with tf.distribute.MirroredStrategy(devices).scope():
            yield


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

"""Device description and GPU memory growth: the real CPU path here, fake GPUs for the rest."""

import logging
import os
from types import SimpleNamespace

import keras
import pytest

from cnnkit.training import accelerators

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the fakes stand in for TF's GPUs")


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="this machine has a GPU")
def test_without_a_gpu_the_cpu_trains():
    assert accelerators.describe_devices() == f"CPU ({accelerators.cpu_cores()} cores)"
    assert accelerators.cpu_cores() >= 1


def test_memory_growth_can_be_asked_for_repeatedly_on_the_real_devices():
    accelerators.enable_memory_growth()
    accelerators.enable_memory_growth()


@pytest.fixture
def two_gpus(monkeypatch):
    """TensorFlow seeing two fake GPUs; returns the memory-growth calls made on them."""
    gpus = [SimpleNamespace(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(2)]
    names = {gpus[0].name: "NVIDIA H100 80GB HBM3", gpus[1].name: "NVIDIA A100-SXM4-40GB"}
    growth = []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda gpu: {"device_name": names[gpu.name]})
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: growth.append((gpu.name, on)))
    return growth


def test_gpus_are_described_by_name(two_gpus):
    assert accelerators.describe_devices() == "GPU: NVIDIA H100 80GB HBM3, NVIDIA A100-SXM4-40GB"


def test_memory_growth_is_enabled_on_every_gpu_and_can_be_asked_for_again(two_gpus):
    accelerators.enable_memory_growth()
    accelerators.enable_memory_growth()
    assert two_gpus == [("/physical_device:GPU:0", True), ("/physical_device:GPU:1", True)] * 2


def test_memory_growth_after_the_gpus_are_initialised_is_logged_not_raised(two_gpus, monkeypatch, caplog):
    def too_late(gpu, on):
        raise RuntimeError("Physical devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", too_late)
    with caplog.at_level(logging.WARNING, logger="cnnkit.training.accelerators"):
        accelerators.enable_memory_growth()
    assert caplog.text.count("cannot be modified") == 2


def test_on_jax_preallocation_is_turned_off_unless_already_set(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    accelerators.enable_memory_growth()
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")
    accelerators.enable_memory_growth()
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"

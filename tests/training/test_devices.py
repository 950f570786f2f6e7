"""Data-parallel training over several devices (the `devices` setting).

The real runs happen in a child process, since the backend and the devices it presents are fixed
when it starts: on JAX, XLA_FLAGS splits the CPU into two devices; on TensorFlow, two logical
CPU devices are configured before anything else runs. The checks that need one device only run
here, in this process's backend with its single CPU.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking import run_schema
from cnnkit.training import accelerators
from cnnkit.config import TrainConfig, find_problems
from cnnkit.datasets import Dataset
from cnnkit.errors import InputError
from cnnkit.jobs import JobManager
from cnnkit.training import train
from cnnkit.training.logged_training import split_evenly
from alerts import alert_text

ROOT = Path(__file__).resolve().parents[2]
# Small batches (12 splits among 1, 2 and 3 devices) so that one epoch learns enough (test accuracy well above
# chance) for equal losses to mean equal training, not two nets that both still sit near ln 10.
RUN = dict(dataset="digits", epochs=1, batch_size=12, seed=3, train_limit=400, learning_rate=0.003)

# Trains RUN on 1, 2 and 3 devices into the store given as argv[1]; the parent reads the runs from there.
CHILD = """
import sys
{prelude}
from cnnkit.config import TrainConfig
from cnnkit.training import train

for devices in (1, 2, 3):
    train(TrainConfig(**{run}, devices=devices), tracking_uri=sys.argv[1], run_name=f"devices={{devices}}")
"""
TWO_TF_CPUS = """
import tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def train_on_two_devices(backend: str, prelude: str, tmp_path: Path):
    """The child's runs by their devices param, and a client of their store."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if backend == "jax":
        env.update(XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    script = CHILD.format(prelude=prelude, run=RUN)
    done = subprocess.run([sys.executable, "-c", script, store], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    client = make_client(store)
    runs = client.search_runs([experiment.experiment_id for experiment in client.search_experiments()])
    return {run.data.params["devices"]: run for run in runs}, client


def first_epoch_loss(client, run) -> float:
    return next(metric.value for metric in client.get_metric_history(run.info.run_id, "loss") if metric.step == 1)


@pytest.mark.slow
@pytest.mark.parametrize("backend, prelude, tolerance, same_net", [
    # Keras' DataParallel runs the single-device program on a batch sharded over both devices: batch
    # norm statistics, dropout masks and the loss are those of the whole batch, so only the order of
    # float32 sums may differ (measured: equal to the last bit; 1e-5 leaves room for other XLA versions).
    # The trained nets are then the same too: their test losses agree as closely.
    ("jax", "", 1e-5, True),
    # MirroredStrategy normalises each device's half batch (6 images) with its own batch-norm statistics
    # and draws its own dropout masks: a different computation, measured 2.3% apart after one epoch.
    # 5% still tells it from a net that did not learn (the single-device loss is 5% below ln 10 = 2.30).
    # The difference grows as they train (test losses 12% apart), so only the first epoch is compared.
    ("tensorflow", TWO_TF_CPUS, 0.05, False),
])
def test_a_data_parallel_run_finishes_with_the_single_device_loss(backend, prelude, tolerance, same_net, tmp_path):
    pytest.importorskip(backend)
    runs, client = train_on_two_devices(backend, prelude, tmp_path)

    one, two, three = runs["1"], runs["2"], runs["3"]
    assert (one.info.status, two.info.status) == ("FINISHED", "FINISHED"), two.data.tags.get("cnnkit.error")
    assert two.data.tags[run_schema.DEVICE_COUNT_TAG] == "2" and one.data.tags[run_schema.DEVICE_COUNT_TAG] == "1"
    assert two.data.tags[run_schema.DEVICE_TAG] == "2 × CPU"
    assert one.data.metrics["test_accuracy"] > 0.25 and two.data.metrics["test_accuracy"] > 0.25  # chance is 0.1
    assert first_epoch_loss(client, two) == pytest.approx(first_epoch_loss(client, one), rel=tolerance)
    if same_net:
        assert two.data.metrics["test_loss"] == pytest.approx(one.data.metrics["test_loss"], rel=tolerance)
    assert three.info.status == "FAILED"
    assert three.data.tags["cnnkit.error"] == "Devices: 3 asked for, but this server has 2 (cpu:0, cpu:1)."


def test_a_batch_that_does_not_split_evenly_among_the_devices_names_both_settings():
    with pytest.raises(InputError) as raised:
        TrainConfig(batch_size=63, devices=2)
    assert str(raised.value) == ("Devices: the Batch size (63) must split evenly among the devices: use a Batch size "
                                 "that is a multiple of 2.")
    assert set(find_problems({"batch_size": "63", "devices": "2"})) == {"devices"}
    assert find_problems({"batch_size": "64", "devices": "2"}) == {}


def test_devices_are_bounded_like_every_setting():
    assert set(find_problems({"devices": "0"})) == {"devices"}
    assert TrainConfig.from_params(TrainConfig(devices=2).to_params()).devices == 2


def one_too_many() -> tuple[int, str]:
    """More devices than this process has (on a CPU-only machine 2), and the message that says so."""
    present = accelerators.local_devices()
    return len(present) + 1, f"Devices: {len(present) + 1} asked for, but this server has {len(present)} ({', '.join(present)})."


def test_more_devices_than_the_server_has_are_refused_before_a_job_is_queued(tmp_path):
    manager = JobManager(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", recover_stale_runs=False)
    devices, message = one_too_many()
    with pytest.raises(InputError) as raised:
        manager.submit(TrainConfig(devices=devices, batch_size=64 * devices))
    assert str(raised.value) == message
    assert manager.snapshots() == []


def test_a_run_asking_for_more_devices_than_there_are_fails_with_the_message(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    devices, message = one_too_many()
    result = train(TrainConfig(devices=devices, batch_size=64 * devices), tracking_uri=store)

    assert (result.status, result.error) == ("FAILED", message)
    run = make_client(store).get_run(result.run_id)
    assert (run.info.status, run.data.tags["cnnkit.error"]) == ("FAILED", message)


def test_the_training_and_validation_images_are_cut_to_a_multiple_of_the_devices():
    def images(n):
        return np.zeros((n, 2, 2, 1), np.uint8), np.arange(n)

    data = Dataset("tiny", *images(11), *images(5), *images(7), ("a", "b"))
    even = split_evenly(data, 4)
    assert even.split_counts() == {"train": 8, "validation": 4, "test": 7}
    assert list(even.y_train) == list(range(8)) and list(even.y_val) == list(range(4))
    assert split_evenly(data, 1) is data


def test_the_train_form_has_devices_and_blocks_launch_when_the_batch_does_not_split(app):
    at = app.run()
    at.number_input(key="cfg.devices").set_value(2).run()
    at.number_input(key="cfg.batch_size").set_value(63).run()

    assert [alert_text(error) for error in at.error] == [
        "Devices: the Batch size (63) must split evenly among the devices: use a Batch size that is a multiple of 2."]
    assert next(button for button in at.button if "Launch training" in button.label).disabled

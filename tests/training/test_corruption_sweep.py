"""The corruption sweep: its accuracies against a hand-made model's, checked corruption by corruption;
its stop between batches; then end to end on a tiny digits run, through the store, the thread runner
and the job manager (slow)."""

import threading

import numpy as np
import pytest

from cnnkit import training
from cnnkit.config import TrainConfig
from cnnkit.jobs import JobManager
from cnnkit.jobs.events import JobEnded, ProgressReported
from cnnkit.jobs.runner import JobSpec
from cnnkit.jobs.thread_runner import ThreadRunner
from cnnkit.models import corruptions
from cnnkit.tracking import RunStore, run_schema
from cnnkit.tracking.store_opening import make_client
from cnnkit.training import sweep_model
from cnnkit.training.corruption_sweep import BATCH_SIZE


class Brightness:
    """A "model" that calls an image class 1 when its mean pixel is above 100: its accuracy under any
    corruption can be worked out from the corrupted images alone."""

    def predict_on_batch(self, x):
        bright = np.asarray(x).mean(axis=(1, 2, 3)) > 100
        return np.stack([~bright, bright], axis=-1).astype("float32")


def images_and_labels(n=BATCH_SIZE + 100):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    levels = np.where(labels == 1, rng.uniform(90, 160, n), rng.uniform(40, 110, n))
    return np.clip(levels[:, None, None, None] + rng.normal(0, 20, (n, 8, 8, 1)), 0, 255).astype(np.uint8), labels


def test_the_sweep_measures_each_corruption_and_severity_as_corrupting_batch_by_batch_would():
    images, labels = images_and_labels()
    seen = []
    result = sweep_model(Brightness(), images, labels, names=("contrast", "brightness", "gaussian_noise"), seed=3,
                         on_batch=lambda done, total, what: seen.append((done, total, what)))
    assert result.clean_accuracy == np.mean((images.mean(axis=(1, 2, 3)) > 100) == labels)
    for row in result.table.itertuples():
        batches = [corruptions.corrupt(images[start:start + BATCH_SIZE], row.corruption, row.severity, seed=3 * 100_003 + batch)
                   for batch, start in enumerate(range(0, len(images), BATCH_SIZE))]
        expected = np.mean((np.concatenate(batches).mean(axis=(1, 2, 3)) > 100) == labels)
        assert row.accuracy == pytest.approx(expected)
        assert row.parameter == corruptions.parameter(row.corruption, row.severity, 1) and row.benchmark == "MNIST-C"
    assert len(result.table) == 3 * 5 and result.images == len(images)
    assert result.mean_accuracy == pytest.approx(result.table["accuracy"].mean())
    assert result.drop == pytest.approx(result.clean_accuracy - result.mean_accuracy)
    assert [done for done, _, _ in seen] == list(range(1, 33)) and {total for _, total, _ in seen} == {32}  # 16 x 2 batches
    assert seen[0][2] == "clean images" and seen[-1][2] == "gaussian_noise, severity 5"
    metrics = result.metrics()
    assert metrics[run_schema.CORRUPTION_MEAN_ACCURACY] == result.mean_accuracy
    assert metrics[run_schema.corruption_accuracy("brightness", 5)] == result.table.iloc[9].accuracy
    assert len(metrics) == 4 + 15


def test_a_stop_request_stops_the_sweep_before_its_next_batch():
    images, labels = images_and_labels()
    cancel, seen = threading.Event(), []

    def on_batch(done, total, what):
        seen.append(done)
        if done == 3:
            cancel.set()

    with pytest.raises(training.Cancelled):
        sweep_model(Brightness(), images, labels, cancel=cancel, on_batch=on_batch)
    assert seen == [1, 2, 3]


# ---- end to end (slow) -------------------------------------------------------------------------

TIMEOUT = 300


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """(tracking URI, run id) of a finished 1-epoch digits run (8 x 8 x 1 images)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    result = training.train(TrainConfig(dataset="digits", epochs=1, train_limit=200), tracking_uri=uri)
    assert result.status == "FINISHED"
    return uri, result.run_id


@pytest.mark.slow
def test_a_sweep_stopped_through_the_thread_runner_ends_cancelled_and_logs_nothing(digits_run):
    uri, run_id = digits_run
    runner, events, ended = ThreadRunner(), [], threading.Event()

    def on_event(event):  # in the job's thread: the cancel lands before its next batch
        events.append(event)
        if isinstance(event, ProgressReported) and event.progress.batch == 2:
            runner.cancel(handle, "enough")
        if isinstance(event, JobEnded):
            ended.set()

    handle = runner.submit(JobSpec("job-1", "corruptions", TrainConfig(dataset="digits"), "sweep", uri, "cnnkit",
                                   run_id, images=50), on_event)
    assert ended.wait(TIMEOUT)
    assert events[-1] == JobEnded("cancelled")
    assert max(event.progress.batch for event in events if isinstance(event, ProgressReported)) == 2
    assert run_schema.CORRUPTION_MEAN_ACCURACY not in make_client(uri).get_run(run_id).data.metrics


@pytest.mark.slow
def test_sweeps_queue_report_progress_and_log_on_the_run_readable_through_mlflow(digits_run):
    uri, run_id = digits_run
    manager = JobManager(tracking_uri=uri, max_concurrent=1, recover_stale_runs=False)
    try:
        first = manager.submit_corruption_sweep(run_id, images=40)
        second = manager.submit_corruption_sweep(run_id, images=60)
        assert manager.snapshot(second).queue_position == 1  # one at a time: the second waits its turn
        done = [manager.wait(job, TIMEOUT) for job in (first, second)]
    finally:
        manager.shutdown()
    assert [(job.kind, job.state, job.run_id) for job in done] == [("corruptions", "finished", run_id)] * 2
    assert done[1].progress.phase.startswith("corruption sweep: scale") and done[1].fraction == 1.0
    run = make_client(uri).get_run(run_id)
    assert run.info.status == "FINISHED"  # the sweep leaves the run as it was
    metrics = run.data.metrics
    assert metrics[run_schema.CORRUPTION_IMAGES] == 60  # the later sweep's
    table = RunStore(uri).corruption_table(run_id)
    assert len(table) == len(corruptions.CORRUPTIONS) * 5
    assert metrics[run_schema.CORRUPTION_MEAN_ACCURACY] == pytest.approx(table["accuracy"].mean())
    assert metrics[run_schema.CORRUPTION_DROP] == pytest.approx(
        metrics[run_schema.CORRUPTION_CLEAN_ACCURACY] - metrics[run_schema.CORRUPTION_MEAN_ACCURACY])
    assert metrics[run_schema.corruption_accuracy("rotate", 5)] == pytest.approx(
        table.set_index(["corruption", "severity"]).loc[("rotate", 5), "accuracy"])
    assert {key: metrics[key] for key in done[1].result.metrics} == pytest.approx(done[1].result.metrics)

"""A run's corruption sweep in the store: metrics at step 0 that a newer sweep replaces, the table read
back as written, None for a run without a sweep, and the run's status left alone."""

import math
import time

import pandas as pd

from cnnkit.tracking import run_schema
from cheap_runs import finished_run

TABLE = pd.DataFrame({"corruption": ["contrast", "contrast"], "severity": [1, 2], "parameter": [0.4, 0.3],
                      "benchmark": ["MNIST-C", "MNIST-C"], "accuracy": [0.9, 0.75]})


def test_a_sweep_is_logged_on_the_finished_run_and_a_newer_one_replaces_it(run_store, client):
    run_id = finished_run(run_store)
    assert run_store.corruption_table(run_id) is None
    run_store.log_corruption_sweep(run_id, {run_schema.CORRUPTION_MEAN_ACCURACY: 0.825}, TABLE)
    time.sleep(0.01)  # a later millisecond: the newer value is the latest even though it is lower
    run_store.log_corruption_sweep(run_id, {run_schema.CORRUPTION_MEAN_ACCURACY: 0.5}, TABLE.iloc[::-1])
    run = client.get_run(run_id)
    assert (run.info.status, run.data.metrics[run_schema.CORRUPTION_MEAN_ACCURACY]) == ("FINISHED", 0.5)
    pd.testing.assert_frame_equal(run_store.corruption_table(run_id), TABLE.iloc[::-1].reset_index(drop=True))


def test_the_runs_table_has_a_runs_mean_corruption_accuracy_once_it_has_a_sweep(run_store):
    swept, unswept = finished_run(run_store, name="swept"), finished_run(run_store, name="unswept")
    run_store.log_corruption_sweep(swept, {run_schema.CORRUPTION_MEAN_ACCURACY: 0.7}, TABLE)
    frame = run_store.runs_by_id([swept, unswept]).set_index("run_id")[run_schema.CORRUPTION_MEAN_ACCURACY]
    assert frame[swept] == 0.7 and math.isnan(frame[unswept])

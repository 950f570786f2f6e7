"""PassMonitor: a validation or prediction pass reports its batches, throttled."""

from cnnkit.training.callbacks import PassMonitor


def test_a_pass_reports_its_start_at_most_one_batch_per_interval_and_its_end():
    heard = []
    monitor = PassMonitor(100, heard.append, report_seconds=3600)
    monitor.on_predict_begin()
    for batch in range(100):
        monitor.on_predict_batch_begin(batch)
    monitor.on_predict_end()
    assert heard == [0, 100]
    every = PassMonitor(3, heard.append, report_seconds=0)
    every.on_test_begin(), every.on_test_batch_begin(1), every.on_test_batch_begin(2), every.on_test_end()
    assert heard[2:] == [0, 1, 2, 3]

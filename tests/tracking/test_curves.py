"""Runs' curves (cnnkit.tracking.curves): a run's epochs and batches."""

from cnnkit.config import TrainConfig


def test_run_history_has_epoch_metrics_and_batches_with_the_rate_carried_forward(run_store):
    logger = run_store.start_run(TrainConfig())
    for epoch in (1, 2):
        logger.log_metrics({"loss": 1 / epoch, "val_accuracy": 0.4 * epoch, "lr": 0.01}, step=epoch)
    for step, loss in enumerate([2.0, 1.5, 1.2, 1.0], start=1):
        logger.log_metrics({"batch_loss": loss, **({"batch_lr": 0.01 * step} if step in (1, 3) else {})}, step=step)
    logger.finish("FINISHED")

    epochs, batches = run_store.run_history(logger.run_id)

    assert list(epochs.columns) == ["epoch", "loss", "val_accuracy", "lr"]  # only what was logged, in order
    assert epochs.to_dict("list") == {"epoch": [1, 2], "loss": [1.0, 0.5], "val_accuracy": [0.4, 0.8], "lr": [0.01, 0.01]}
    assert batches.to_dict("list") == {"step": [1, 2, 3, 4], "batch_loss": [2.0, 1.5, 1.2, 1.0],
                                       "batch_lr": [0.01, 0.01, 0.03, 0.03]}


def test_run_history_of_a_run_without_metrics_is_empty(run_store):
    epochs, batches = run_store.run_history(run_store.start_run(TrainConfig()).run_id)
    assert epochs.empty and list(epochs.columns) == ["epoch"]
    assert batches.empty and list(batches.columns) == ["step", "batch_loss", "batch_lr"]

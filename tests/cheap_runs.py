"""Runs made in a store without training: enough for pickers and tables, not for a model or an evaluation."""

from cnnkit import tracking
from cnnkit.config import TrainConfig


def finished_runs(tracking_uri: str, names: list[str], status: str = "FINISHED") -> list[str]:
    """Runs named `names` on digits, ended with `status`, made in order (the last is the newest); their ids."""
    run_store = tracking.RunStore(tracking_uri)
    made = []
    for name in names:
        logger = run_store.start_run(TrainConfig(dataset="digits"), run_name=name)
        logger.finish(status)
        made.append(logger.run_id)
    return made


def finished_run(run_store: tracking.RunStore, cfg: TrainConfig = TrainConfig(), name: str | None = None,
                 val_accuracies=(0.5, 0.7), test_accuracy: float = 0.8) -> str:
    """A FINISHED run with per-epoch val_accuracy and a test accuracy, as `train` logs them; its id."""
    logger = run_store.start_run(cfg, run_name=name)
    for epoch, value in enumerate(val_accuracies, start=1):
        logger.log_metrics({"val_accuracy": value}, step=epoch)
    logger.log_metrics({"test_accuracy": test_accuracy}, step=len(val_accuracies))
    logger.finish("FINISHED")
    return logger.run_id


def run_on_data(run_store: tracking.RunStore, name: str, val_fraction: float = 0.1, path: str = "") -> str:
    """A FINISHED run with digits split with `val_fraction` logged as its dataset inputs, as `train`
    logs them (the fingerprints computed here; `train` reuses its own); its id."""
    from cnnkit.datasets import load_dataset

    data = load_dataset("digits", val_fraction=val_fraction)
    logger = run_store.start_run(TrainConfig(dataset="digits", val_fraction=val_fraction), run_name=name)
    logger.log_datasets(data, path, data.fingerprint(), data.test_fingerprint())
    logger.finish("FINISHED")
    return logger.run_id

"""Runs made in a store without training: enough for pickers and tables, not for a model or an evaluation."""

from cnnkit import tracking
from cnnkit.config import TrainConfig


def finished_runs(tracking_uri: str, names: list[str], status: str = "FINISHED") -> list[str]:
    """Runs named `names` on digits, ended with `status`, made in order (the last is the newest); their ids."""
    client = tracking.make_client(tracking_uri)
    made = []
    for name in names:
        logger = tracking.start_run(client, TrainConfig(dataset="digits"), run_name=name)
        logger.finish(status)
        made.append(logger.run_id)
    return made

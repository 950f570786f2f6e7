"""Starting the Train page's jobs: a training run, a learning-rate range test, and when a range
test's result no longer applies to the form."""

from cnnkit.config import TrainConfig, describe_run

# The settings a range test's result depends on: change one and its suggestion no longer applies.
RANGE_TEST_INPUTS = ("dataset", "dataset_path", "image_size", "arch", "activation", "batch_norm", "dropout_scale", "width")


def launch_training(manager, store, values: dict, name: str, visitor: str) -> str:
    """Queue a training run of the form's `values` (named `name`, or by its settings when empty) and
    return its job id. Raises InputError when the store takes no runs from here (a team server's
    read-only user, checked before any job) or the settings can't run."""
    store.check_can_launch(manager.experiment)
    return manager.submit(TrainConfig.from_dict(values), name=name or None, visitor=visitor)


def run_title(values: dict, name: str) -> str:
    """What a launched run is called: its name, or a description of its settings."""
    return name or describe_run(values)


def find_learning_rate(manager, values: dict, visitor: str) -> str:
    """Queue a learning-rate range test of the form's `values` and return its job id (InputError if it can't run)."""
    return manager.submit_lr_find(TrainConfig.from_dict(values), visitor=visitor)


def range_test_is_stale(config: TrainConfig, values: dict) -> bool:
    """Whether a range test run with `config` was for other data or another network than the form's."""
    return any(getattr(config, field) != values[field] for field in RANGE_TEST_INPUTS)

"""cnnkit.explorer.launch: the Train page's launches, against a stand-in manager and store."""

import pytest

from cnnkit.config import TrainConfig, describe_run
from cnnkit.errors import InputError
from cnnkit.explorer import launch

VALUES = TrainConfig(dataset="digits", epochs=2).to_dict()


class Manager:
    experiment = "cnnkit"

    def __init__(self):
        self.submitted = []

    def submit(self, cfg, name=None, visitor=None):
        self.submitted.append(("train", cfg, name, visitor))
        return "job-1"

    def submit_lr_find(self, cfg, visitor=None):
        self.submitted.append(("lr_find", cfg, None, visitor))
        return "job-2"


class Store:
    def __init__(self, refusal: str | None = None):
        self.refusal, self.checked = refusal, []

    def check_can_launch(self, experiment):
        self.checked.append(experiment)
        if self.refusal:
            raise InputError(self.refusal)


def test_a_launch_checks_the_store_then_queues_the_forms_config_under_its_name():
    manager, store = Manager(), Store()
    assert launch.launch_training(manager, store, VALUES, "mine", "session 1") == "job-1"
    assert store.checked == ["cnnkit"]
    assert manager.submitted == [("train", TrainConfig.from_dict(VALUES), "mine", "session 1")]
    launch.launch_training(manager, store, VALUES, "", "session 1")
    assert manager.submitted[-1][2] is None  # no name: the run is named by its settings


def test_a_store_that_takes_no_runs_stops_the_launch_before_any_job():
    manager = Manager()
    with pytest.raises(InputError, match="read-only"):
        launch.launch_training(manager, Store("read-only user"), VALUES, "mine", "session 1")
    assert manager.submitted == []


def test_a_run_is_called_by_its_name_or_its_settings():
    assert launch.run_title(VALUES, "mine") == "mine"
    assert launch.run_title(VALUES, "") == describe_run(VALUES)


def test_a_range_test_is_queued_for_the_forms_config():
    manager = Manager()
    assert launch.find_learning_rate(manager, VALUES, "session 1") == "job-2"
    assert manager.submitted == [("lr_find", TrainConfig.from_dict(VALUES), None, "session 1")]


def test_a_range_test_goes_stale_when_the_data_or_the_network_changes_but_not_the_optimiser():
    ran = TrainConfig.from_dict(VALUES)
    assert not launch.range_test_is_stale(ran, {**VALUES, "learning_rate": 0.5, "epochs": 9})
    assert launch.range_test_is_stale(ran, {**VALUES, "width": 2.0})
    assert launch.range_test_is_stale(ran, {**VALUES, "dataset": "mnist"})

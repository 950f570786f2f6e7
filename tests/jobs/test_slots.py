"""The sidebar's line on where jobs run and how many at once, and why the Train page's "Runs training
at once" is off when the runner decides (a Ray cluster's job slots)."""

import pytest

from cnnkit.jobs.slots import slots_set_by, where_jobs_run
from cnnkit.jobs import JobManager


class Runner:
    def __init__(self, description, detached, slots):
        self.description, self.detached, self.slots = description, detached, slots

    def capacity(self):
        return self.slots

    def running_jobs(self):
        return []


@pytest.fixture
def manager_on():
    made = []

    def make(runner):
        made.append(JobManager(max_concurrent=2, recover_stale_runs=False, runner=runner))
        return made[-1]

    yield make
    for each in made:
        each.shutdown()


def test_a_cluster_with_slots_says_how_many_and_turns_the_control_off(manager_on):
    manager = manager_on(Runner("Ray cluster http://head:8265", True, 4))
    assert where_jobs_run(manager) == "Jobs run on **Ray cluster http://head:8265** · 4 slots"
    assert slots_set_by(manager).startswith("Set by Ray cluster http://head:8265: its `cnnkit_slot` resources")
    assert where_jobs_run(manager_on(Runner("Ray cluster http://one:8265", True, 1))).endswith("· 1 slot")


def test_a_cluster_without_slots_says_so_and_this_apps_count_holds(manager_on):
    manager = manager_on(Runner("Ray cluster http://head:8265", True, None))
    assert where_jobs_run(manager) == ("Jobs run on **Ray cluster http://head:8265** · it has no `cnnkit_slot` "
                                       "resource, so it caps nothing: this app starts 2 at once")
    assert slots_set_by(manager) is None


def test_threads_are_named_and_the_managers_count_is_the_controls(manager_on):
    manager = manager_on(None)
    assert where_jobs_run(manager) == "Jobs run on **this server's threads**"
    assert slots_set_by(manager) is None


def test_the_train_page_shows_the_clusters_slots_and_greys_out_its_own_count(app, monkeypatch, tmp_path):
    import app_pages.common

    manager = JobManager(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", recover_stale_runs=False,
                         runner=Runner("Ray cluster http://head:8265", True, 12))
    monkeypatch.setattr(app_pages.common, "job_manager", lambda: manager)
    try:
        at = app.run()
        assert not at.exception
        captions = [caption.value for caption in at.sidebar.caption]
        assert "Jobs run on **Ray cluster http://head:8265** · 12 slots" in captions
        [count] = [each for each in at.sidebar.number_input if each.label == "Runs training at once"]
        assert (count.value, count.disabled) == (12, True)
        assert count.help.startswith("Set by Ray cluster http://head:8265")
        manager.runner.slots = None  # a cluster without the resource: the count is this app's again
        at.run()
        [count] = [each for each in at.sidebar.number_input if each.label == "Runs training at once"]
        assert (count.value, count.disabled) == (2, False)
    finally:
        manager.shutdown()

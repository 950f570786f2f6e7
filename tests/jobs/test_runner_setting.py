"""Which runner the app and the CLI send jobs to: `--runner`, else CNNKIT_RUNNER, else this process's
threads; a `ray://host:port` address names a Ray cluster's Jobs API."""

import sys
from types import SimpleNamespace

import pytest

from cnnkit.errors import InputError
from cnnkit.jobs.runner_setting import RUNNER_VARIABLE, THREADS, make_remote_runner, runner_setting


@pytest.mark.parametrize("flag, variable, setting", [
    (None, None, THREADS),  # neither: this process's threads
    (None, "", THREADS),
    (None, "  ray://head:8265 ", "ray://head:8265"),
    ("threads", "ray://head:8265", THREADS),  # the flag wins over the environment
    ("ray://10.0.0.5:8265", None, "ray://10.0.0.5:8265"),
])
def test_the_flag_else_the_variable_else_threads(monkeypatch, flag, variable, setting):
    if variable is None:
        monkeypatch.delenv(RUNNER_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(RUNNER_VARIABLE, variable)
    assert runner_setting(flag) == setting


@pytest.mark.parametrize("flag, variable", [
    ("yarn://cluster", None), ("ray://", None), ("Threads", None), ("http://head:8265", None),
    (None, "ray:/head:8265"),  # a bad environment value is refused the same way
])
def test_a_value_that_names_no_runner_is_an_input_error_naming_the_runner_setting(monkeypatch, flag, variable):
    monkeypatch.setenv(RUNNER_VARIABLE, variable or "")
    bad = (flag or variable).strip()
    with pytest.raises(InputError) as refused:
        runner_setting(flag)
    assert str(refused.value) == (f"Runner: {bad!r} is neither 'threads' nor a Ray cluster address "
                                  "like ray://127.0.0.1:8265.")


def test_threads_need_no_remote_runner_and_a_ray_address_is_its_clusters_jobs_api(monkeypatch):
    made = []
    fake_ray_runner = SimpleNamespace(RayRunner=lambda address, tracking_uri: made.append((address, tracking_uri)) or "ray")
    monkeypatch.setitem(sys.modules, "cnnkit.jobs.ray_runner", fake_ray_runner)  # no cluster to reach
    assert make_remote_runner(THREADS, "sqlite:///runs.db") is None
    assert made == []  # threads are the manager's own: no Ray runner is made
    assert make_remote_runner("ray://head:8265", "sqlite:///runs.db") == "ray"
    assert made == [("http://head:8265", "sqlite:///runs.db")]

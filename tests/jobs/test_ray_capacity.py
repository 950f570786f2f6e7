"""The Ray runner's capacity without a cluster (its state API stood in for): the alive nodes'
`cnnkit_slot` resources together, read at construction, renewed in the background once a few
seconds old, the last count kept while the cluster can't be reached; an unreachable cluster at
construction is one line. The real head's count is checked in test_ray_runner.py."""

from types import SimpleNamespace

import pytest

pytest.importorskip("ray")

import ray.job_submission  # noqa: E402
import ray.util.state  # noqa: E402

from cnnkit.jobs import ray_runner  # noqa: E402
from cnnkit.errors import InputError  # noqa: E402
from cnnkit.jobs.ray_runner import RayRunner, slots_of  # noqa: E402
from run_processes import wait_for  # noqa: E402


def node(slots=None, state="ALIVE"):
    return SimpleNamespace(state=state, resources_total={"CPU": 4.0, **({"cnnkit_slot": slots} if slots else {})})


class StateApi:
    """Stands in for ray.util.state.list_nodes: the nodes it lists, or the error it raises."""

    def __init__(self, nodes):
        self.nodes, self.error, self.reads = nodes, None, 0

    def __call__(self, *, address, filters, timeout, raise_on_missing_output):
        self.reads += 1
        if self.error is not None:
            raise self.error
        return [each for each in self.nodes if each.state == "ALIVE"]


@pytest.fixture
def cluster(monkeypatch):
    api = StateApi([node(2.0), node(1.0), node(4.0, state="DEAD"), node()])
    monkeypatch.setattr(ray.job_submission, "JobSubmissionClient", lambda address: object())
    monkeypatch.setattr(ray.util.state, "list_nodes", api)
    monkeypatch.setattr(ray_runner, "authentication_mode", lambda address: "token")  # its dashboard's answer
    return api


def test_the_slots_are_the_alive_nodes_cnnkit_slot_resources_together():
    assert slots_of([node(2.0), node(1.0), node(4.0, state="DEAD"), node()]) == 3
    assert slots_of([node(), node(4.0, state="DEAD")]) is None  # no such resource: Ray caps nothing


def test_capacity_is_read_at_construction_and_renewed_once_a_few_seconds_old(cluster, monkeypatch):
    runner = RayRunner("http://127.0.0.1:8265", "sqlite:///unused.db")
    assert runner.capacity() == 3 and cluster.reads == 1
    cluster.nodes.append(node(5.0))  # a node joins
    assert runner.capacity() == 3 and cluster.reads == 1  # a fresh read answers
    monkeypatch.setattr(ray_runner, "SLOTS_FRESH_SECONDS", 0.0)
    wait_for(lambda: runner.capacity() == 8, 30, "the renewed count")


def test_a_cluster_gone_quiet_keeps_the_last_count_and_one_listing_no_node_yet_too(cluster, monkeypatch):
    runner = RayRunner("http://127.0.0.1:8265", "sqlite:///unused.db")
    monkeypatch.setattr(ray_runner, "SLOTS_FRESH_SECONDS", 0.0)
    cluster.error = ConnectionError("Failed to connect to API server.")
    wait_for(lambda: runner.capacity() is not None and cluster.reads >= 3, 30, "reads that fail")
    assert runner.capacity() == 3
    cluster.error, cluster.nodes = None, []  # a head restarting lists no alive node for a moment
    reads = cluster.reads
    wait_for(lambda: runner.capacity() is not None and cluster.reads >= reads + 2, 30, "reads of no node")
    assert runner.capacity() == 3


def test_a_cluster_without_slots_has_no_capacity_and_an_unreachable_one_is_one_line(cluster):
    cluster.nodes = [node()]
    assert RayRunner("http://127.0.0.1:8265", "sqlite:///unused.db").capacity() is None
    cluster.error = ConnectionError("Failed to connect to API server.\nPlease check the API server log.")
    with pytest.raises(InputError, match=r"^The Ray cluster at http://127.0.0.1:8265 can't be reached: "
                                         r"Failed to connect to API server\.$"):
        RayRunner("http://127.0.0.1:8265", "sqlite:///unused.db")

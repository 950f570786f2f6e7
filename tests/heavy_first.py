"""How scripts/run_tests.sh's two workers share the suite (pytest-xdist, `--dist loadfile`): the heavy
files first, each re-run of a file on JAX a unit of its own, the many quick files last.

xdist hands out whole files, by default the ones with the most tests first. That left the files of a
few long tests to the end (the re-runs on JAX: about 13 minutes in one file), where one worker ran them
while the other had nothing left. Here the files with the most `slow` tests come first (and
run_tests.sh passes --no-loadscope-reorder, so xdist keeps this order); the quick files then fill in
until both workers finish together."""

from collections import Counter

# Its tests each run another file in a fresh process: nothing is shared, so either worker takes any.
SPLIT_BY_TEST = "tests/test_jax_backend.py"


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    slow_tests = Counter(file_of(item.nodeid) for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow_tests[file_of(item.nodeid)])  # stable: a file's own order is kept


def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadfile":
        return None  # xdist's own scheduler for any other --dist
    from xdist.scheduler import LoadFileScheduling

    class HeavyFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if file_of(nodeid) == SPLIT_BY_TEST else file_of(nodeid)

    return HeavyFirst(config, log)

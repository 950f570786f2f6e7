"""The plain values a run reports and is stopped by (`training.progress`) import, build and travel as
JSON where Keras can't be imported: a job runner or watcher reads them without loading a backend."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cnnkit import training
from cnnkit.training import loop, range_test

ROOT = Path(__file__).resolve().parents[2]

# Run first in the child: from then on, importing keras, tensorflow or jax raises, and is remembered.
REFUSE_BACKENDS = textwrap.dedent("""
    import json, sys

    BACKENDS = ("keras", "tensorflow", "jax")
    asked = []

    class RefuseBackends:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BACKENDS:
                asked.append(name)
                raise ImportError(f"{name} may not be imported here")
            return None

    sys.meta_path.insert(0, RefuseBackends())
""")

ROUND_TRIPS = textwrap.dedent("""
    from cnnkit.training import Progress, RangeTest, RunResult, StopRequest, USER_CANCEL
    from cnnkit.jobs.events import JobEnded, ProgressReported, from_json, to_json

    progress = Progress("training", 2, 5, 3, 10, 1.5, 4.0, {"batch_loss": 0.5}, "batch", 13,
                        ((12, 0.6, 0.01), (13, 0.5, 0.01)), "CPU (2 cores)")
    assert Progress.from_json(progress.to_json()) == progress
    assert from_json(to_json(ProgressReported(progress))) == ProgressReported(progress)

    result = RunResult("r" * 32, "FAILED", {"val_accuracy": 0.75}, "loss became NaN")
    assert from_json(to_json(JobEnded("failed", result.error, result))) == JobEnded("failed", result.error, result)

    stop = StopRequest()
    assert not stop.is_set() and stop.reason == USER_CANCEL
    stop.stop("Pruned by the search at epoch 2")
    stop.stop("a later reason")
    assert stop.is_set() and stop.reason == "Pruned by the search at epoch 2"  # what the KILLED run's note says

    try:
        to_json(JobEnded("finished", None, RangeTest([], [], None)))
    except TypeError:
        pass
    else:
        raise AssertionError("a range test's result travelled as JSON")
""")

REPORT = textwrap.dedent("""
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in BACKENDS and sys.modules[name] is not None)
    print(json.dumps({"asked": asked, "loaded": loaded}))
""")


def run_without_backends(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "tensorflow"}  # no backend probe in cnnkit/__init__
    return subprocess.run([sys.executable, "-c", REFUSE_BACKENDS + code + REPORT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_run_values_import_and_travel_without_keras():
    child = run_without_backends(ROUND_TRIPS)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1]) == {"asked": [], "loaded": []}


def test_the_check_refuses_keras_when_something_imports_it():
    """The same child, importing the training loop: the refusal shows, so the test above can fail."""
    child = run_without_backends("import cnnkit.training.loop\n")
    assert child.returncode != 0
    assert "may not be imported here" in child.stderr


def test_the_package_hands_out_its_keras_bound_names_from_their_modules():
    assert training.train is loop.train and training.resume is loop.resume and training.fork is loop.fork
    assert training.resumable is loop.resumable and training.forkable is loop.forkable
    assert training.lr_range_test is range_test.lr_range_test
    assert all(getattr(training, name) is not None for name in training.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        training.no_such_name  # noqa: B018

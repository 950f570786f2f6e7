"""Training: from a config to a finished, logged run, plus the learning-rate range test.

- `progress`: the plain values a run reports and is stopped by (Progress, RunResult, RangeTest,
  StopRequest, Cancelled), free of Keras, so job runners, workers and pages read them anywhere;
- `failures`: why a run failed, in one line (LossDiverged, failure_message);
- `loop`: train a run, resume a stopped one, fork one from a snapshot; a run always ends logged;
- `logged_training`: one run's work: its data, network (`network`), fit with its Keras callbacks
  (`callbacks`), test predictions (`prediction`), evaluation (`evaluation`) and results;
- `range_test`: the learning-rate range test (lr_range_test);
- beside them: `tricks` (optimizer, schedules, input layers), `accelerators` (devices), `checkpoint`,
  `epoch_snapshots` and `snapshot_plan`, `forks`.

Importing this package loads no Keras: the plain values are here at once; the Keras-bound entry
points (train, resume, fork, forkable, resumable, lr_range_test) import their module when first used.
"""

from cnnkit.training.failures import LossDiverged, failure_message
from cnnkit.training.progress import (
    USER_CANCEL,
    Cancelled,
    Progress,
    ProgressCallback,
    RangeTest,
    RunResult,
    StopRequest,
)

__all__ = [
    "USER_CANCEL", "Cancelled", "LossDiverged", "Progress", "ProgressCallback", "RangeTest", "RunResult", "StopRequest",
    "failure_message", "fork", "forkable", "lr_range_test", "resumable", "resume", "train",
]

_LOOP_NAMES = ("train", "resume", "fork", "forkable", "resumable")


def __getattr__(name: str):
    """The Keras-bound entry points, imported on first use (PEP 562)."""
    if name in _LOOP_NAMES:
        from cnnkit.training import loop

        return getattr(loop, name)
    if name == "lr_range_test":
        from cnnkit.training import range_test

        return range_test.lr_range_test
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Training: from a config to a finished, logged run, plus the learning-rate range test.

- `progress`: the plain values a run reports and is stopped by (Progress, RunResult, RangeTest,
  StopRequest, Cancelled), free of Keras, so job runners, workers and pages read them anywhere;
- `failures`: why a run failed, in one line (LossDiverged, failure_message);
- `loop`: train a run, resume a stopped one, fork one from a snapshot; a run always ends logged;
- `logged_training`: one run's work: its data, network (`network`), fit with its Keras callbacks
  (`callbacks`) on batches shuffled by the run's seed (`seeding`), test predictions (`prediction`),
  evaluation (`evaluation`), calibration (`calibration_step`: ECE before and after a temperature
  fitted on the validation split) and results;
- `range_test`: the learning-rate range test (lr_range_test); `corruption_sweep`: a finished run's
  accuracy under image corruptions (sweep_run, sweep_model);
- beside them: `tricks` (optimizer, schedules, input layers), `accelerators` (devices), `checkpoint`,
  `epoch_snapshots` and `snapshot_plan`, `forks`.

Importing this package loads no Keras: the plain values are here at once; every other name of the
face (the entry points, the devices, checkpoints, forks, evaluation, the tricks' previews) imports
its module when first used (PEP 562), so job runners and workers read progress without Keras.
"""

import importlib

from cnnkit.training.failures import LossDiverged, failure_message
from cnnkit.training.progress import (
    USER_CANCEL, Cancelled, Progress, ProgressCallback, RangeTest, RunResult, StopRequest,
)

# name -> the module of this package that holds it (or the module itself), imported on first use
_ON_FIRST_USE = {
    "train": "loop", "resume": "loop", "fork": "loop", "forkable": "loop", "resumable": "loop",
    "lr_range_test": "range_test", "MISTAKE_IMAGES": "logged_training",
    "sweep_run": "corruption_sweep", "sweep_model": "corruption_sweep", "SWEEP_IMAGES": "corruption_sweep",
    "accelerators": "accelerators", "describe_devices": "accelerators", "enable_memory_growth": "accelerators",
    "checkpoint": "checkpoint", "forks": "forks", "evaluate": "evaluation", "disk_budget": "snapshot_plan",
    "augment_samples": "tricks", "schedule_preview": "tricks",
    "Calibration": "calibration_step", "calibrate": "calibration_step",
    "predict_test_images": "prediction",
}

__all__ = [  # the names of _ON_FIRST_USE too (tests/test_imports.py reads this list)
    "USER_CANCEL", "Cancelled", "LossDiverged", "Progress", "ProgressCallback", "RangeTest", "RunResult",
    "StopRequest", "failure_message", "train", "resume", "fork", "forkable", "resumable", "lr_range_test",
    "MISTAKE_IMAGES", "accelerators", "describe_devices", "enable_memory_growth", "checkpoint", "forks", "evaluate",
    "disk_budget", "augment_samples", "schedule_preview", "Calibration", "calibrate", "sweep_run", "sweep_model",
    "SWEEP_IMAGES", "predict_test_images",
]


def __getattr__(name: str):
    """A Keras-bound name of the face, its module imported on first use (PEP 562)."""
    module_name = _ON_FIRST_USE.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return module if module_name == name else getattr(module, name)

"""A run rewound to one of its snapshot epochs: its evaluation then, and which test images an epoch
fixed or broke. Pure numpy over the snapshot's test probabilities (see `RunStore.snapshot_probabilities`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnkit.training import MISTAKE_IMAGES, evaluate
from cnnkit.tracking import RunEvaluation, run_schema


def evaluation_at_epoch(probabilities: np.ndarray, y_test: np.ndarray, x_test: np.ndarray,
                        class_names: list[str]) -> RunEvaluation:
    """The run's evaluation as it would have been after the snapshot's epoch, in the shape the
    finished run's evaluation has, so every view of one shows the other."""
    result = evaluate(y_test, probabilities, class_names)
    mistakes = result.mistakes.assign(probabilities=[np.asarray(row) for row in result.mistakes["probabilities"]])
    shown = mistakes["index"].to_numpy()[:MISTAKE_IMAGES]
    return RunEvaluation(list(class_names), result.confusion, result.per_class, mistakes,
                         {int(i): x_test[i] for i in shown})


@dataclass(frozen=True)
class Changes:
    """Between two epochs of a run: the test images it got right only at the later one (`fixed`) and
    those it got right only at the earlier one (`broken`), by test index, most confident first."""

    fixed: np.ndarray
    broken: np.ndarray
    right_before: int  # images right at the earlier epoch
    right_after: int


def fixed_and_broken(y_test: np.ndarray, earlier: np.ndarray, later: np.ndarray) -> Changes:
    """`earlier`, `later`: the two epochs' probabilities of the same test images. The fixed images come
    most confidently right first, the broken most confidently wrong first."""
    y_test = np.asarray(y_test)
    before, after = earlier.argmax(axis=1) == y_test, later.argmax(axis=1) == y_test
    confidence = later.max(axis=1)
    fixed, broken = np.flatnonzero(~before & after), np.flatnonzero(before & ~after)
    return Changes(fixed[np.argsort(-confidence[fixed], kind="stable")],
                   broken[np.argsort(-confidence[broken], kind="stable")], int(before.sum()), int(after.sum()))


def final_snapshot_epoch(params: dict, metrics: dict) -> int | None:
    """The epoch whose snapshot holds the finished run's own weights: the last epoch it trained,
    unless fit swapped other weights in at its end (early stopping's best epoch, the weights' moving
    average): then None, and the two stay apart. `params`, `metrics`: the run's, as logged."""
    trained = metrics.get(run_schema.EPOCHS_TRAINED)
    if trained is None or any(float(params.get(setting) or 0) for setting in ("early_stopping", "ema_momentum")):
        return None
    return int(trained)

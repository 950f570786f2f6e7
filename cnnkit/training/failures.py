"""Why a run failed, in one line for a person: its loss diverged, its input was wrong, the disk filled up,
or the error's own words."""

from __future__ import annotations

import math

from cnnkit import full_disk
from cnnkit.errors import InputError


class LossDiverged(Exception):
    """The training loss became NaN or infinite: the run cannot recover, so it stops there."""

    def __init__(self, epoch: int, batch: int, loss: float):
        what = "NaN" if math.isnan(loss) else "infinite"
        super().__init__(f"loss became {what} at epoch {epoch}, batch {batch} — lower the learning rate "
                         "(or use gradient clipping)")


# What a run was doing in each phase, for the message when the disk fills up.
_ACTIVITIES = {"training": "training (saving the epoch's checkpoint or logging metrics)",
               "saving": "saving the run's results and model"}


def failure_message(error: BaseException, phase: str) -> str:
    """One line for a person on why a run failed while in `phase` (a Progress phase)."""
    if isinstance(error, (LossDiverged, InputError)):
        return str(error)
    if full_disk.is_disk_full(error):
        place = full_disk.full_place(error)
        return (f"no space left on device{f' in {place}' if place else ''} while {_ACTIVITIES.get(phase, phase)} — "
                "free some disk space, then resume the run or train again")
    return f"{type(error).__name__}: {error}"

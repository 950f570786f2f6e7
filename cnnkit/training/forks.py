"""Forks: a new run that starts from another run's snapshot at epoch k (weights and optimizer state)
with some settings changed, and how a fork is told from other runs and drawn after its parent.

Only settings the snapshot's weights and optimizer state still fit may change: the rate, the
schedule's shape, augmentation, dropout, label smoothing, the epochs, ...; what decides the data
(every setting on the Data tab, the seed included: it fixes the split), the layers that hold weights
or the optimizer's state is refused, naming its label.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from cnnkit.config import SETTINGS, TrainConfig, label, settings_on
from cnnkit.errors import InputError
from cnnkit.tracking import Lineage
from cnnkit.training.tricks import PER_STEP_SCHEDULES

# Settings a snapshot's weights and optimizer state were made for, besides the Data tab's.
WEIGHT_SETTINGS = ("arch", "batch_norm", "width", "normalization", "prefilter", "optimizer", "precision")


def fixed_settings() -> tuple[str, ...]:
    """The settings a fork must keep as its parent had them."""
    return (*(setting.name for setting in settings_on("data")), *WEIGHT_SETTINGS)


def fork_config(parent: TrainConfig, epoch: int, changes: Mapping[str, object]) -> TrainConfig:
    """The fork's config: its parent's with `changes` (values or their text, as the CLI's key=value
    gives them). InputError naming the label of a change the snapshot can't take, or of epochs that
    leave nothing to train after `epoch`."""
    cfg = parent.replace(**changes)
    refused = [name for name in fixed_settings() if getattr(cfg, name) != getattr(parent, name)]
    if refused:
        names = ", ".join(f"“{label(name)}”" for name in refused)
        raise InputError(f"A fork can't change {names}: the snapshot's weights and optimizer state were made for "
                         "the parent's. Launch a new run for that.", field=refused[0])
    if bool(cfg.ema_momentum) != bool(parent.ema_momentum):
        raise InputError(f"A fork can't switch “{label('ema_momentum')}” on or off: the optimizer's state would not "
                         "fit; change its momentum only.", field="ema_momentum")
    if (cfg.schedule in PER_STEP_SCHEDULES) != (parent.schedule in PER_STEP_SCHEDULES):
        kinds = ", ".join(PER_STEP_SCHEDULES)
        raise InputError(f"A fork can't switch “{label('schedule')}” between a per-step schedule ({kinds}) and "
                         f"another one: the optimizer's state would not fit.", field="schedule")
    if cfg.epochs <= epoch:
        raise InputError(f"“{label('epochs')}” counts the parent's too: a fork from epoch {epoch} needs more than "
                         f"{epoch}, got {cfg.epochs}.", field="epochs")
    return cfg


def check_epoch(run_id: str, epoch: int, snapshots: list[int]) -> None:
    """InputError unless run `run_id` has a snapshot after `epoch` (`snapshots`: the epochs it has)."""
    if epoch in snapshots:
        return
    if not snapshots:
        raise InputError(f"Run {run_id} has no snapshots to fork from: it was trained with "
                         f"“{SETTINGS['snapshot_every'].label}” off.")
    raise InputError(f"Run {run_id} has no snapshot after epoch {epoch}; it has "
                     f"{', '.join(map(str, snapshots))}.")


def parent_part_name(fork_name: str, epoch: int) -> str:
    """How the parent's curve up to the fork's epoch is named in Compare."""
    return f"{fork_name} ← parent ≤ {epoch}"


def with_parent_curves(history: pd.DataFrame, forks: Mapping[str, tuple[str, Lineage]],
                       parent_history: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Compare's epoch curves (`histories`' long form, `run` already display names) with each fork's
    parent drawn up to the fork's epoch as a run of its own, so the fork's line (from epoch k + 1)
    continues it. `forks`: fork run id -> (its display name, its lineage); `parent_history`: the
    parents' curves. Returns the curves and {parent part's name: its fork's name} (for `charts.compare_curves`)."""
    parts, names = [history], {}
    for fork_name, lineage in forks.values():
        rows = parent_history[(parent_history["run_id"] == lineage.parent_run_id)
                              & (parent_history["epoch"] <= lineage.epoch)]
        if len(rows):
            name = parent_part_name(fork_name, lineage.epoch)
            parts.append(rows.assign(run=name))
            names[name] = fork_name
    return pd.concat(parts, ignore_index=True), names

"""Where a fork came from: its parent run and the parent's epoch, kept in the fork's tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cnnkit.tracking.run_schema as run_schema


@dataclass(frozen=True)
class Lineage:
    parent_run_id: str
    epoch: int  # the parent's epoch the fork started from; its own epochs are epoch + 1, ...


def lineage_tags(parent_run_id: str, epoch: int) -> dict[str, str]:
    return {run_schema.PARENT_RUN_TAG: parent_run_id, run_schema.PARENT_EPOCH_TAG: str(epoch)}


def lineage_of(tags: Mapping[str, str]) -> Lineage | None:
    """Where a run was forked from, from its tags; None for a run that is not a fork."""
    parent, epoch = tags.get(run_schema.PARENT_RUN_TAG), tags.get(run_schema.PARENT_EPOCH_TAG, "")
    return Lineage(parent, int(epoch)) if parent and epoch.isdigit() else None

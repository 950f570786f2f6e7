"""Inspect's "Train again with these relabelled to the suggestion": a run's config with its suspected label
errors among the training examples given the suggested class (setting Relabel examples), or why it can't be.

Only training examples can be relabelled: a run's own suspects are validation and test images, so the offer
needs a label audit's suspects (split "training", `label_issues.audit_issues`). Only csv and folder datasets
can be relabelled (a corrected copy is written); other datasets are offered Exclude examples instead."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cnnkit.config import RELABELLABLE, relabel_lines, relabels
import cnnkit.explorer.label_issues as label_issues


@dataclass(frozen=True)
class RelabelOffer:
    """The Train form's values for the run again with `count` examples relabelled; None, and `reason`, when
    there is nothing to offer."""

    values: dict | None
    count: int = 0
    reason: str = ""


def relabel_offer(store, run_id: str, table: pd.DataFrame) -> RelabelOffer:
    """Run `run_id`'s config (from `store`, a `tracking.RunStore`) with the training rows of `table` (a label-issues
    table: `id`, `split`, `suggested_label`) relabelled to their suggestion, on top of the run's own relabelling.
    A suspect the run excluded comes back in, relabelled; the run's other exclusions stay, even of an
    example it relabelled too. Raises InputError when the run's config can't be read."""
    cfg = store.config_of_run(run_id)
    if cfg.dataset not in RELABELLABLE:
        return RelabelOffer(None, reason=f"Relabelling writes a corrected copy of a csv or folder dataset, and this "
                                         f"run trained on {cfg.dataset}: use Exclude examples to train without them.")
    has_columns = {"id", "split", "suggested_label"} <= set(table.columns)
    rows = table[table["split"] == label_issues.TRAINING] if has_columns else table[:0]
    if not len(rows):
        return RelabelOffer(None, reason="Only training examples can be relabelled, and these are validation and "
                                         "test images, which the run never trained on. A label audit "
                                         "(Training split above, or python -m cnnkit label-audit) finds the "
                                         "suspects among its training examples.")
    wanted = {**relabels(cfg.relabel_examples),
              **{str(example_id): str(label) for example_id, label in zip(rows["id"], rows["suggested_label"])}}
    back_in = set(rows["id"].astype(str))
    values = cfg.replace(relabel_examples=relabel_lines(f"{example_id},{label}" for example_id, label in wanted.items()),
                         exclude_examples=tuple(sorted(set(cfg.exclude_examples) - back_in))).to_dict()
    return RelabelOffer(values, count=len(rows))

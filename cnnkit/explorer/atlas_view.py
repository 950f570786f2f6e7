"""A run's data atlas as the page shows it: its data map from the training dynamics it recorded
(`stats.cartography`), a line saying what the map covers or why there is none, and the examples a
selection or a region picks, with their images from the run's reloaded training split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnkit.config import SETTINGS
from cnnkit.datasets import Dataset, example_ids
from cnnkit.stats import cartography

MAX_SHOWN = 100  # examples shown as images at once, the most confusing (lowest confidence) first


@dataclass(frozen=True)
class RunAtlas:
    """`data_map`: None where the run has none, and `note` says why; else `note` says what it covers."""

    data_map: cartography.DataMap | None
    note: str


def run_atlas(store, run_id: str) -> RunAtlas:
    """Run `run_id`'s data map from `store` (a `tracking.RunStore`)."""
    arrays = store.training_dynamics(run_id)
    if arrays is None:
        setting = SETTINGS["dynamics_sample"]
        sample = store.run(run_id).params.get(setting.name)
        why = ("it was trained before cnnkit recorded training dynamics" if sample is None else
               f"it was trained with “{setting.label}” at 0 (off)" if sample == "0" else
               "it stopped before its first epoch ended")
        return RunAtlas(None, f"This run has no data map: {why}.")
    mapped = cartography.data_map(arrays["label_probability"], arrays["predicted"], arrays["labels"], arrays["ids"])
    mapped_count, total, epochs = len(mapped.ids), int(arrays["training_size"]), arrays["epochs"]
    covers = (f"all {total:,} training examples" if mapped_count == total else
              f"{mapped_count:,} of the {total:,} training examples (a sample fixed by the run's seed)")
    span = f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {epochs[0]}–{epochs[-1]}"
    return RunAtlas(mapped, f"The map places {covers} by the probability the model gave their label after {span}.")


def picked(mapped: cartography.DataMap, shown: np.ndarray, point_indices=(), region: str | None = None,
           flagged: np.ndarray | None = None) -> np.ndarray:
    """Positions in `mapped` of the examples picked: the points selected on a chart of the examples at
    `shown` (its point i is example shown[i]), or, with `region`, the shown examples in that region, or, with
    `flagged` (booleans over `mapped`), the shown examples flagged; the least confident first."""
    if flagged is not None:
        chosen = shown[np.asarray(flagged)[shown]]
    else:
        chosen = shown[mapped.region[shown] == region] if region else shown[np.asarray(point_indices, dtype=np.int64)]
    return chosen[np.argsort(mapped.confidence[chosen], kind="stable")]


def flagged(mapped: cartography.DataMap, ids) -> np.ndarray:
    """Booleans over `mapped`'s examples: those among `ids` (a label audit's suspects; ids the map's sample lacks
    are not on it)."""
    return np.isin(mapped.ids.astype(str), np.asarray(ids, dtype=str))


def without_examples(store, run_id: str, ids) -> dict:
    """Run `run_id`'s own config (from `store`, a `tracking.RunStore`) with the examples `ids` added to those it
    already excluded, as the Train form's values: the run again without them."""
    cfg = store.config_of_run(run_id)
    return cfg.replace(exclude_examples=(*cfg.exclude_examples, *map(str, ids))).to_dict()


def examples_table(mapped: cartography.DataMap, positions: np.ndarray, class_names) -> pd.DataFrame:
    """The examples at `positions`, one row each: id, given label, prediction after the last epoch, the
    map's numbers and region."""
    names = np.asarray(class_names, dtype=object)
    return pd.DataFrame({"id": mapped.ids[positions], "label": names[mapped.labels[positions]],
                         "predicted": names[mapped.last_predicted[positions]],
                         "confidence": mapped.confidence[positions], "variability": mapped.variability[positions],
                         "correctness": mapped.correctness[positions], "region": mapped.region[positions]})


def images_of(mapped: cartography.DataMap, positions: np.ndarray, data: Dataset) -> np.ndarray:
    """The training images of the examples at `positions`, found by id in `data` (the run's split reloaded)."""
    return data.x_train[example_ids.positions(mapped.ids[positions], data.ids_train)]

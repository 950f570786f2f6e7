"""What comparing runs reads (Compare and Inspect pages): their results side by side, the settings
that differ, a run's test-set evaluation, its test data loaded again as it was split, the
fingerprints that say which runs were tested on the same images, and where forks came from."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from cnnkit.config import field_names, load_data, short_param
from cnnkit.datasets import Dataset
from cnnkit.errors import InputError
from cnnkit.tracking._store_client import StoreClient, display_names, duration_s
from cnnkit.tracking.dataset_inputs import evaluated_images
from cnnkit.tracking.lineage import Lineage, lineage_of
from cnnkit.tracking.run_lifecycle import config_of
from cnnkit.tracking.run_schema import (
    CONFUSION_MATRIX, DATA_FINGERPRINT_TAG, EPOCHS_TRAINED, EVALUATION_FILES, EVALUATION_FOLDER, MISTAKE_IMAGES,
    MISTAKES, PER_CLASS, RESULT_METRICS, TEST_FINGERPRINT_TAG,
)

RESULT_COLUMNS = ("run_id", "run", "status", *RESULT_METRICS, "test_images", "epochs", "wall_s")


@dataclass(frozen=True, eq=False)
class RunEvaluation:
    """A finished run's test-set evaluation, as `train` logged it."""

    class_names: list[str]
    confusion: np.ndarray  # (true, predicted) counts, int64
    per_class: pd.DataFrame  # class, precision, recall, f1, support
    mistakes: pd.DataFrame  # index (into the test set), true, predicted, confidence, probabilities (float arrays)
    mistake_images: dict[int, np.ndarray]  # test index -> uint8 image (H, W, C), for the most confident mistakes


class RunComparisons(StoreClient):
    """Reading several runs side by side, and what a comparison needs of each."""

    def results_table(self, run_ids: list[str]) -> pd.DataFrame:
        """One row per run, in the given order (an id given twice counts once), with the columns
        in `RESULT_COLUMNS`. `run` is the run's name, with a short id suffix where names clash;
        `epochs` the epochs it trained (fewer than set after early stopping); `wall_s` its wall
        time, so far while it is RUNNING; `test_images` how many test images its test metrics count (<NA>:
        logged before runs recorded it). Metrics a run never logged are nan."""
        runs = self._runs(run_ids)
        now_ms = time.time() * 1000
        rows = [
            (run.info.run_id, name, run.info.status, *(run.data.metrics.get(key, math.nan) for key in RESULT_METRICS),
             evaluated_images(run), run.data.metrics.get(EPOCHS_TRAINED, run.data.params.get("epochs")),
             duration_s(run.info, now_ms))
            for run, name in zip(runs, display_names(runs))
        ]
        frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
        for column in ("test_images", "epochs"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
        return frame

    def params_diff(self, run_ids: list[str]) -> pd.DataFrame:
        """The settings that differ between the runs (see `differing_params`), one column per
        run named as in `results_table`."""
        runs = self._runs(run_ids)
        return differing_params({name: run.data.params for run, name in zip(runs, display_names(runs))})

    def evaluation_of_run(self, run_id: str) -> RunEvaluation:
        """A run's evaluation from its `evaluation/` artifacts, fetched in one download."""
        with tempfile.TemporaryDirectory() as tmp:
            with contextlib.suppress(MlflowException, OSError):  # no such folder: treated below like missing files
                self._client.download_artifacts(run_id, EVALUATION_FOLDER, tmp)
            folder = Path(tmp)
            missing = [Path(name).name for name in EVALUATION_FILES if not (folder / name).is_file()]
            if missing:
                raise InputError(
                    f"Run {run_id} has no evaluation (missing {', '.join(missing)}): runs are evaluated when training "
                    "ends, and FAILED or KILLED runs stop before that."
                )
            confusion = json.loads((folder / CONFUSION_MATRIX).read_text())
            with np.load(folder / MISTAKE_IMAGES, allow_pickle=False) as arrays:
                images = dict(zip(arrays["index"].tolist(), arrays["images"]))
            return RunEvaluation(
                class_names=list(confusion["class_names"]),
                confusion=np.asarray(confusion["matrix"], dtype=np.int64),
                per_class=pd.read_csv(folder / PER_CLASS, dtype={"class": str}, keep_default_na=False),
                mistakes=_read_mistakes(folder / MISTAKES),
                mistake_images=images,
            )

    def test_split_of_run(self, run_id: str) -> Dataset:
        """The run's data loaded again as the run split it (so `x_test[i]` is the image of test
        index i in its evaluation), after checking it against the run's data fingerprint."""
        run = self._runs([run_id])[0]
        expected = run.data.tags.get(DATA_FINGERPRINT_TAG)
        if not expected:
            raise InputError(f"Run {run_id} never loaded its data (it stopped before), so it has no test set to show.")
        try:
            data = load_data(config_of(self._client, run))
        except (InputError, OSError) as error:
            raise InputError(f"The data this run saw is not available any more: {error}") from None
        if data.fingerprint() != expected:
            raise InputError(
                f"The data this run saw is not available any more: '{data.name}' now loads different images or labels "
                "than the run trained and was tested on."
            )
        return data

    def test_fingerprints(self, run_ids: list[str]) -> dict[str, str | None]:
        """run id -> fingerprint of the images the run was tested on, in order: equal fingerprints mean
        the same test images in the same order, so mistakes line up by test index. Test-split
        fingerprints, or, when one of these runs was logged before those existed, fingerprints of the
        whole split for all of them. None for a run that never loaded data."""
        runs = self._runs(run_ids)
        tested = all(TEST_FINGERPRINT_TAG in run.data.tags for run in runs)
        key = TEST_FINGERPRINT_TAG if tested else DATA_FINGERPRINT_TAG
        return {run.info.run_id: run.data.tags.get(key) for run in runs}

    def lineages(self, run_ids: list[str]) -> dict[str, Lineage]:
        """run id -> where it was forked from, for the forks among these runs (one search)."""
        found = {run.info.run_id: lineage_of(run.data.tags) for run in self._runs(run_ids)}
        return {run_id: lineage for run_id, lineage in found.items() if lineage is not None}


def differing_params(params_by_run: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Settings whose values are not the same in every run: index `setting` (TrainConfig's
    fields in their order, then any other params alphabetically), one column per run, ""
    where a run lacks the setting. Empty when all runs agree. The excluded and the relabelled examples read as their
    count and digest's first digits ("37 examples · sha256 4faaff33c654"), "none" for a run that has none."""
    order = {name: position for position, name in enumerate(field_names())}
    keys = sorted({key for params in params_by_run.values() for key in params},
                  key=lambda key: (order.get(key, len(order)), key))
    frame = pd.DataFrame({run: [params.get(key, "") for key in keys] for run, params in params_by_run.items()},
                         index=pd.Index(keys, name="setting"), dtype=object)
    differing = frame[frame.nunique(axis=1) > 1]
    for setting in ("exclude_examples", "relabel_examples"):
        if setting in differing.index:
            differing.loc[setting] = differing.loc[setting].map(short_param)
    return differing


def _read_mistakes(path: Path) -> pd.DataFrame:
    """mistakes.csv with each row's `probabilities` (written as "[p0, p1, ...]") back as a
    float array. All rows are parsed in one pass of pandas' C parser, ~5x faster than
    json.loads per row (6,000 mistakes x 100 classes), and nan or inf from a diverged model,
    which are not JSON, read fine."""
    table = pd.read_csv(path)
    if len(table):
        rows = "\n".join(text.strip("[]") for text in table["probabilities"])
        table["probabilities"] = list(pd.read_csv(io.StringIO(rows), header=None, dtype="float64").to_numpy())
    return table

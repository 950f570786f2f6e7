"""Dataset cartography (Swayamdipta et al. 2020, "Dataset Cartography: Mapping and Diagnosing Datasets
with Training Dynamics", EMNLP): each training example placed by how confidently and how stably the
model learnt it across epochs.

Per example, over the E recorded epochs: confidence = the mean of p(its label), variability = their
standard deviation (the population's, dividing by E, as the paper's eq. 2), correctness = the share of
epochs whose predicted class (the argmax, recorded per epoch) was its label.

Regions. The paper names three (its Fig. 1): easy-to-learn (high confidence, low variability, top
left), hard-to-learn (low confidence, low variability, bottom left) and ambiguous (high variability,
right), but draws no lines between them. Ours, read off that figure: ambiguous when variability is at
least `AMBIGUOUS_VARIABILITY` (0.2, 40 % of the largest possible, 0.5); otherwise easy-to-learn when
confidence is at least `EASY_CONFIDENCE` (0.5), else hard-to-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AMBIGUOUS_VARIABILITY = 0.2
EASY_CONFIDENCE = 0.5
EASY, AMBIGUOUS, HARD = "easy-to-learn", "ambiguous", "hard-to-learn"
REGIONS = (EASY, AMBIGUOUS, HARD)


@dataclass(frozen=True)
class DataMap:
    """One row per mapped training example, in the order recorded: its id, label, the class predicted
    after the last epoch, confidence, variability, correctness and region (a name of REGIONS)."""

    ids: np.ndarray
    labels: np.ndarray
    last_predicted: np.ndarray
    confidence: np.ndarray
    variability: np.ndarray
    correctness: np.ndarray
    region: np.ndarray
    epochs: int

    def region_counts(self) -> dict[str, int]:
        return {name: int(np.sum(self.region == name)) for name in REGIONS}

    def chosen(self, region: str | None = None, classes=None) -> np.ndarray:
        """Positions of the examples in `region` (None: any) whose label is one of `classes` (None: any)."""
        keep = np.ones(len(self.ids), dtype=bool)
        if region is not None:
            keep &= self.region == region
        if classes is not None:
            keep &= np.isin(self.labels, list(classes))
        return np.flatnonzero(keep)


def data_map(label_probability: np.ndarray, predicted: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> DataMap:
    """The data map of training dynamics: `label_probability` and `predicted` are (epochs, examples):
    p(label) and the argmax class after each epoch."""
    p = np.asarray(label_probability, dtype=np.float64)
    confidence, variability = p.mean(axis=0), p.std(axis=0)
    correctness = (np.asarray(predicted) == np.asarray(labels)[None, :]).mean(axis=0)
    region = np.where(variability >= AMBIGUOUS_VARIABILITY, AMBIGUOUS,
                      np.where(confidence >= EASY_CONFIDENCE, EASY, HARD))
    return DataMap(np.asarray(ids), np.asarray(labels), np.asarray(predicted)[-1], confidence, variability,
                   correctness, region, len(p))

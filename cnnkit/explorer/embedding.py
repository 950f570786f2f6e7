"""A run's test images as its network sees them, on a plane: the penultimate layer's features (what the
softmax layer reads) of up to `LIMIT` images, projected to 2-D by PCA (an SVD, at once), each point
carrying its label, the prediction, whether that was right and whether its label is suspected wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cnnkit.models import inspection, predict

LIMIT = 10_000
COLOURS = {"label": "given label", "prediction": "prediction", "correct": "right or wrong", "flagged": "label issue"}


def pca_2d(features: np.ndarray) -> np.ndarray:
    """(N, 2): the features centred and projected on their two main axes (zeros where there are fewer)."""
    centred = np.asarray(features, dtype=np.float64) - np.mean(features, axis=0)
    if len(centred) < 2:
        return np.zeros((len(centred), 2))
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ axes[:2].T
    return np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))


def embedding_of_run(model, images: np.ndarray, labels: np.ndarray, class_names, flagged=(),
                     limit: int = LIMIT) -> pd.DataFrame:
    """One row a point: `position` in the split (up to `limit`, evenly spread), `x`, `y`, `label`,
    `prediction`, `correct` ("right"/"wrong") and `flagged` ("suspected"/"-": `flagged` holds the
    positions of suspected label errors)."""
    positions = predict.evenly_spread(len(images), limit) if len(images) else np.zeros(0, int)
    features, probabilities = inspection.classifier_inputs(model, images[positions])
    xy = pca_2d(features)
    given, predicted = np.asarray(labels)[positions], probabilities.argmax(axis=1)
    return pd.DataFrame({"position": positions, "x": xy[:, 0], "y": xy[:, 1],
                         "label": [class_names[c] for c in given], "prediction": [class_names[c] for c in predicted],
                         "correct": np.where(given == predicted, "right", "wrong"),
                         "flagged": np.where(np.isin(positions, list(flagged)), "suspected", "-")})

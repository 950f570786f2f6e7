"""Near-duplicates and outliers as the network sees them: each image's features are what its softmax
layer reads (the penultimate layer, `inspection.classifier_inputs`), scaled to length 1, so a dot
product is a cosine similarity. Pairs of near-identical images within the test split, and across the
training and test splits (leakage: a test image the network may have trained on), and the test images
least like the rest (lowest mean similarity to their nearest neighbours). Similarities are taken in
blocks of matrix products, so memory stays at `BLOCK` rows times the other split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnkit.models import inspection, predict

TRAIN_LIMIT = 20_000  # training images compared with the test split by default, evenly spread
THRESHOLD = 0.98  # cosine similarity from which two images count as near-duplicates by default
NEIGHBOURS = predict.NEIGHBOURS  # the k of an outlier's k nearest neighbours, as Classify's familiarity
BLOCK = 1024


@dataclass(frozen=True)
class Features:
    """Unit-length features of the images at `positions` of one split."""

    positions: np.ndarray
    vectors: np.ndarray


def features_of(model, images: np.ndarray, limit: int | None = None) -> Features:
    """The model's features of `images` (all of them, or `limit` evenly spread)."""
    positions = np.arange(len(images)) if limit is None else predict.evenly_spread(len(images), limit)
    vectors, _ = inspection.classifier_inputs(model, images[positions])
    return Features(positions, predict.unit_length(vectors))


def similar_pairs(first: Features, second: Features | None = None, threshold: float = THRESHOLD,
                  top: int = 50) -> pd.DataFrame:
    """The `top` most similar pairs at or above `threshold`, most similar first: columns `first` and
    `second` (positions in their splits) and `similarity`. Without `second`, pairs within `first`
    (each pair once, no image with itself)."""
    within = second is None
    second = first if within else second
    if not len(first.vectors) or not len(second.vectors):
        return pd.DataFrame({"first": first.positions[:0], "second": second.positions[:0], "similarity": np.zeros(0)})
    found = []
    for start in range(0, len(first.vectors), BLOCK):
        similarity = first.vectors[start:start + BLOCK] @ second.vectors.T
        if within:  # only j > i: each pair once
            similarity[np.tril_indices(len(similarity), k=start, m=len(second.vectors))] = -np.inf
        rows, columns = np.nonzero(similarity >= threshold)
        values = similarity[rows, columns]
        keep = np.argsort(-values, kind="stable")[:top]
        found.append((rows[keep] + start, columns[keep], values[keep]))
    rows, columns, values = (np.concatenate(part) for part in zip(*found))
    order = np.argsort(-values, kind="stable")[:top]
    return pd.DataFrame({"first": first.positions[rows[order]], "second": second.positions[columns[order]],
                         "similarity": values[order]})


def outliers(features: Features, k: int = NEIGHBOURS, top: int = 20) -> pd.DataFrame:
    """The `top` images least like the others, most unusual first: `position` and `similarity`, the
    mean cosine similarity to its k nearest other images."""
    k = min(k, len(features.vectors) - 1)
    if k < 1:
        return pd.DataFrame({"position": features.positions[:0], "similarity": np.zeros(0)})
    scores = []
    for start in range(0, len(features.vectors), BLOCK):
        similarity = features.vectors[start:start + BLOCK] @ features.vectors.T
        block = np.arange(len(similarity))
        similarity[block, block + start] = -np.inf  # an image is not its own neighbour
        nearest = -np.partition(-similarity, k - 1, axis=1)[:, :k]
        scores.append(nearest.mean(axis=1))
    scores = np.concatenate(scores)
    order = np.argsort(scores, kind="stable")[:top]
    return pd.DataFrame({"position": features.positions[order], "similarity": scores[order]})

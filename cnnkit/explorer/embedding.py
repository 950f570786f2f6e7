"""A run's test images as its network sees them, on a plane: the penultimate layer's features (what the
softmax layer reads) of up to `LIMIT` images, each point carrying its label, the prediction, whether that
was right and whether its label is suspected wrong. Two projections of the same features: PCA (an SVD,
at once) and UMAP (umap-learn; seconds to a minute, so the pages compute it in the background)."""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from cnnkit.errors import InputError
from cnnkit.models import inspection, predict

LIMIT = 10_000
COLOURS = {"label": "given label", "prediction": "prediction", "correct": "right or wrong", "flagged": "label issue"}
SEED = 0  # UMAP's: the same features always give the same picture
NEIGHBOURS = 15  # UMAP's n_neighbors (its default): how local the structure it keeps is
UMAP_FEWEST = 4  # UMAP's spectral start fails on fewer points; so few are placed by PCA


@dataclass(frozen=True)
class Embedding:
    """`features` (N, D) of the points in `points` (one row each: `position` in the split, `label`,
    `prediction`, `correct` "right"/"wrong", `flagged` "suspected"/"-"), not yet on a plane."""
    features: np.ndarray
    points: pd.DataFrame

    def placed(self, xy: np.ndarray) -> pd.DataFrame:
        """The points with their coordinates `xy` (N, 2), from `pca_2d` or `umap_2d` of `features`."""
        return self.points.assign(x=xy[:, 0], y=xy[:, 1])


def embedding_of_run(model, images: np.ndarray, labels: np.ndarray, class_names, flagged=(),
                     limit: int = LIMIT) -> Embedding:
    """Up to `limit` of `images` (evenly spread) through `model`; `flagged` holds the positions of
    suspected label errors."""
    positions = predict.evenly_spread(len(images), limit) if len(images) else np.zeros(0, int)
    features, probabilities = inspection.classifier_inputs(model, images[positions])
    given, predicted = np.asarray(labels)[positions], probabilities.argmax(axis=1)
    return Embedding(features, pd.DataFrame({
        "position": positions, "label": [class_names[c] for c in given],
        "prediction": [class_names[c] for c in predicted], "correct": np.where(given == predicted, "right", "wrong"),
        "flagged": np.where(np.isin(positions, list(flagged)), "suspected", "-")}))


def pca_2d(features: np.ndarray) -> np.ndarray:
    """(N, 2): the features centred and projected on their two main axes (zeros where there are fewer)."""
    centred = np.asarray(features, dtype=np.float64) - np.mean(features, axis=0)
    if len(centred) < 2:
        return np.zeros((len(centred), 2))
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ axes[:2].T
    return np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))


def umap_available() -> bool:
    """Whether umap-learn is installed (the pages then offer UMAP; PCA is always there)."""
    return importlib.util.find_spec("umap") is not None


def umap_2d(features: np.ndarray, seed: int | None = SEED) -> np.ndarray:
    """(N, 2): UMAP (McInnes et al. 2018) of the features' directions, i.e. Euclidean distance between
    unit-length rows, which orders neighbours as cosine similarity does: the Neighbours tab's measure,
    blind to how strongly a ReLU layer fires as a whole. The neighbours are exact (scikit-learn, well
    under a second for 10,000 points) rather than umap-learn's approximate NN-descent, whose numba code
    takes about 30 s to compile in every new process. With a seed UMAP runs on one thread and gives the
    same picture every time; on 10,000 points that was no slower than its parallel mode (`seed=None`)
    on two busy cores (benchmarks/embedding.py). A process's first call still compiles some of the
    layout's code (about 5 s), and a fresh install's first call all of it (about 20 s), cached on disk
    (`numba_cache_dir`)."""
    if len(features) < UMAP_FEWEST:
        return pca_2d(features)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))  # read when numba is first imported
    try:
        import umap
    except ImportError as error:
        raise InputError(f"UMAP needs umap-learn, which is not installed here ({error}); "
                         "PCA shows the same features.") from error
    directions, neighbours = predict.unit_length(features), min(NEIGHBOURS, len(features) - 1)
    distances, indices = NearestNeighbors(n_neighbors=neighbours).fit(directions).kneighbors(directions)
    reducer = umap.UMAP(n_neighbors=neighbours, random_state=seed, n_jobs=-1 if seed is None else 1,
                        precomputed_knn=(indices, distances, None))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "precomputed_knn", UserWarning)  # "without NN-descent, no transform()"
        return reducer.fit_transform(directions).astype(np.float64)


def numba_cache_dir() -> Path:
    """Where numba keeps UMAP's compiled code unless NUMBA_CACHE_DIR says: `cnnkit/numba` in the user's
    cache folder, else in the temporary folder. Numba's own default, beside its package, can't be
    written in a read-only install, and its fall-back (the home folder) may not be writable either."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnkit" / "numba"
    for folder in (base, Path(tempfile.gettempdir()) / f"cnnkit-numba-{os.getuid()}"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise InputError(f"UMAP's compiled code has nowhere to go: neither {base} nor the temporary folder "
                     "can be written; set NUMBA_CACHE_DIR to a folder that can.")

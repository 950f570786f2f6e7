"""Label noise made on purpose, for the label-error finders' tests: sklearn's digits with 5 % of them
given another digit."""

import numpy as np
from sklearn.datasets import load_digits


def flipped_digits(share: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixels 0-16, noisy labels, positions flipped): `share` of the digits, drawn with `seed`, each given
    one of the nine other digits."""
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(y), size=int(len(y) * share), replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 10, size=len(flipped))) % 10
    return x, noisy, flipped

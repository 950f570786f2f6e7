"""Statistics that say whether a result can be trusted: plain NumPy and SciPy, no Keras, no store, so
every layer above can call them (training at the end of a run, ablations, the explorer's pages).

- `paired`: two classifiers on the same test images: discordant counts, McNemar's exact test, a paired
  bootstrap interval of the accuracy difference, one plain sentence; Holm's correction for many pairs;
- `intervals`: the Wilson interval of an accuracy;
- `calibration`: reliability diagram data, ECE, MCE, NLL, Brier score, temperature scaling;
- `seeds`: seed-to-seed spread and how many seeds tell a difference from seed noise;
- `cartography`: the data map of training dynamics: confidence, variability, correctness, regions.
"""

from cnnkit.stats import calibration, cartography, intervals, paired, seeds

__all__ = ["calibration", "cartography", "intervals", "paired", "seeds"]

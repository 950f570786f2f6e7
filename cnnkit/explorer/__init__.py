"""What the app's pages need that is not Streamlit: plain values in, plain values or plotly figures
out, each unit-tested without a browser.

- `charts`: every chart, a module per view; `plain_text`: typed text shown as itself;
- `train_plan`, `launch`, `job_view`: the Train page's previews, launches and live view;
- `run_filter` and `run_pickers`: finding runs; `selection`: ticked rows kept across pages;
- `view_address`: a page's view in the address bar, for reloads and shared links;
  `ablation_address`: the Ablation page's choices there;
- `comparison`: which comparisons fit the chosen runs; `verdict`: whether one is really better than
  another; `accuracy_intervals`: accuracies with their 95 % intervals; `seed_spread`: how much runs
  that differ only by seed spread; `calibration_view`: a run's calibration as the pages show it;
  `model_cache`: models loaded once, in the background; `atlas_view`: a run's data map and the
  examples picked on it;
- `label_issues`: suspected label errors of a run's held-out splits; `neighbours`: near-duplicates and
  outliers by the network's features; `embedding`: those features on a plane (PCA, UMAP);
  `background_work`: slow results (UMAP) computed once in the background, polled by the pages;
  `relabel_offer`: a run again with its training suspects relabelled to the suggestion.
"""

import importlib

# The face's modules, each imported on first use (PEP 562): a page imports only what it draws, and the
# app's frame can show its "Starting up" note (it needs only plain_text) before Keras and MLflow load.
_MODULES = ("ablation_address", "accuracy_intervals", "atlas_view", "background_work", "calibration_view", "charts",
            "comparison", "embedding", "job_view", "label_issues", "launch", "neighbours", "plain_text", "relabel_offer",
            "run_filter", "run_pickers", "seed_spread", "selection", "train_plan", "verdict", "view_address")

__all__ = [
    "ModelCache", "ablation_address", "accuracy_intervals", "atlas_view", "background_work", "calibration_view", "charts",
    "comparison", "embedding", "job_view", "label_issues", "launch", "neighbours", "plain_text", "relabel_offer", "run_filter",
    "run_pickers", "seed_spread", "selection", "train_plan", "verdict", "view_address",
]


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "ModelCache":
        return importlib.import_module(f"{__name__}.model_cache").ModelCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

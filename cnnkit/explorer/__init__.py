"""What the app's pages need that is not Streamlit: plain values in, plain values or plotly figures
out, each unit-tested without a browser.

- `charts`: every chart, a module per view; `plain_text`: typed text shown as itself;
- `train_plan`, `launch`, `job_view`: the Train page's previews, launches and live view;
- `run_filter` and `run_pickers`: finding runs; `selection`: ticked rows kept across pages;
- `comparison`: which comparisons fit the chosen runs; `model_cache`: models loaded once, in the
  background.
"""

from cnnkit.explorer import (
    charts, comparison, job_view, launch, plain_text, run_filter, run_pickers, selection, train_plan,
)
from cnnkit.explorer.model_cache import ModelCache

__all__ = [
    "ModelCache", "charts", "comparison", "job_view", "launch", "plain_text", "run_filter", "run_pickers",
    "selection", "train_plan",
]

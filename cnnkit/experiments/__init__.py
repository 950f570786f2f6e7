"""Experiments made of many runs, and what a user takes away from runs.

- `search`: the Optuna search over settings (trials as runs, pruned by validation accuracy), and
  `search_figures`: Optuna's figures of it;
- `ablations`: factors × seeds (`Ablation`, launched through the job manager) and
  `ablation_analysis`: its statistics (cells, main effects with t-intervals, curve bands);
- `time_travel`: a run's evaluation at an earlier epoch from its snapshots, what got fixed or broke;
- `export`: a finished run as a folder or zip (model, ONNX copy checked by onnxruntime, card);
- `report_card`: can this run's result be trusted? Its interval, calibration, robustness and OOD hint, in words;
- `label_audit`: k fold runs giving every training example an out-of-fold probability, for label issues.
"""

from cnnkit.experiments import (
    ablation_analysis, ablations, export, label_audit, report_card, search, search_figures, time_travel,
)
from cnnkit.experiments.ablation_analysis import report
from cnnkit.experiments.ablations import ABLATION_PRESETS, Ablation, AblationLaunch, parse_factor, preset_ablation
from cnnkit.experiments.export import export_run
from cnnkit.experiments.label_audit import (
    AuditLaunches, LabelAudit, LabelAuditLaunch, OutOfFold, StoredAudit, plan_label_audit, resume_label_audit,
    stored_audit,
)

__all__ = [
    "ABLATION_PRESETS", "Ablation", "AblationLaunch", "ablation_analysis", "ablations", "export", "export_run",
    "AuditLaunches", "LabelAudit", "LabelAuditLaunch", "OutOfFold", "StoredAudit", "label_audit",
    "plan_label_audit", "resume_label_audit", "stored_audit", "parse_factor",
    "preset_ablation", "report", "report_card", "search", "search_figures", "time_travel",
]

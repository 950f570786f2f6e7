"""The one route to the tracking store: `RunStore`, whose parts each hold one concept's reads and
writes on the same client (runs' lifecycle, artifacts, uploads, stale runs, the runs table,
curves, editing, the model registry, comparisons, ablations, label audits). Outside cnnkit.tracking nothing holds
an MLflow client nor sees MLflow's objects."""

from __future__ import annotations

from cnnkit.tracking.artifacts import RunArtifacts
from cnnkit.tracking.comparison_reads import RunComparisons
from cnnkit.tracking.corruption_results import CorruptionResults
from cnnkit.tracking.curves import RunCurves
from cnnkit.tracking.editing import RunEditing
from cnnkit.tracking.label_audit_reads import LabelAuditReads
from cnnkit.tracking.model_registry import ModelRegistry
from cnnkit.tracking.run_lifecycle import RunLifecycle
from cnnkit.tracking.runs_table import RunsTable
from cnnkit.tracking.stale_runs import StaleRuns
from cnnkit.tracking.store_address import describe_store
from cnnkit.tracking.ablation_reads import AblationReads
from cnnkit.tracking.uploaded_data import UploadedData


class RunStore(RunLifecycle, RunArtifacts, UploadedData, StaleRuns, RunsTable, RunCurves, RunEditing, ModelRegistry,
               RunComparisons, AblationReads, LabelAuditReads, CorruptionResults):
    """Every read and write of runs, on one tracking store (`tracking_uri`, default
    `default_tracking_uri()`): each part (a base class) holds one concept's methods, all on this
    store's client, which is made and checked once per process and store (`make_client`):
    StoreError on creation when the store can't be used. Writers to a run (`RunLogger`) come from
    `start_run`, `attach_run`, `reopen_run` and `logger`."""

    def describe(self) -> str:
        """Where runs go and who is logged in, never a password (see `describe_store`)."""
        return describe_store(self.tracking_uri)

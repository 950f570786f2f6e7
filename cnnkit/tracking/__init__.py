"""Everything MLflow, reached through one object, `RunStore`, on one tracking store.

The package's concepts, a module each:
- where runs go (`store_address`: the store's URI, its folder, the login, how messages name it)
  and opening the store (`store_opening`: the checks of a SQLite file or a server, StoreError);
- who may launch runs (`permissions`), patience with a busy store (`patience`) and a run's
  buffered writer (`logger`: `RunLogger`, its own thread for metrics);
- a run's life (`run_lifecycle`) and MLflow's own provenance tags on it (`provenance`: user,
  source, commit), its data as MLflow dataset inputs (`dataset_inputs`), its files and checked
  models and snapshots (`artifacts`), uploaded data for workers elsewhere (`uploaded_data`), runs whose worker is gone (`stale_runs`);
- reads for the app: the runs table (`runs_table`), curves (`curves`), people's edits
  (`editing`), the Model Registry (`model_registry`), comparisons (`comparison_reads`), ablations
  (`ablation_reads`);
- the tags, params, metrics and artifact names every run holds (`run_schema`, a contract with
  the runs already stored), heartbeats (`heartbeat`), the machine's use while a run trains
  (`system_metrics`), forks' lineage (`lineage`) and the processes that train runs (`worker_process`).

Only this package talks to MLflow, and only through `MlflowClient` (no global active run), so
several training threads can log at once; the client stays inside it: the rest of cnnkit, the
CLI and the app's pages use `RunStore` (`store.py`), whose parts hold each concept's methods.
"""

from cnnkit.tracking import heartbeat, lineage, run_schema, worker_process
from cnnkit.tracking.heartbeat import Heartbeat, stale_after_seconds
from cnnkit.tracking.lineage import Lineage, lineage_of, lineage_tags
from cnnkit.tracking.run_schema import RESULT_METRICS, TEST_ACCURACY, TEST_PREFIX
from cnnkit.tracking.artifacts import file_sha256, snapshot_name
from cnnkit.tracking.curves import threshold_times, thresholds_reached, with_elapsed
from cnnkit.tracking.comparison_reads import RESULT_COLUMNS, RunEvaluation, differing_params
from cnnkit.tracking.logger import RunLogger
from cnnkit.tracking.patience import (
    STOP_GRACE_SECONDS, STORE_PATIENCE_SECONDS, Patience, StoreUnavailable, StoreWaitStopped,
)
from cnnkit.tracking.model_registry import RegisteredVersion
from cnnkit.tracking.run_lifecycle import RunState, git_commit
from cnnkit.tracking.runs_table import RUN_COLUMNS, RunsPage, RunSummary
from cnnkit.tracking.store import RunStore
from cnnkit.tracking.store_address import (
    DEFAULT_EXPERIMENT, default_store_dir, default_tracking_uri, describe_store, login, store_folder, store_place,
)
from cnnkit.tracking.store_opening import StoreError
from cnnkit.tracking.system_metrics import SystemMetrics
from cnnkit.tracking.ablation_reads import ABLATION_COLUMNS, ABLATION_RUN_COLUMNS

__all__ = [
    "DEFAULT_EXPERIMENT", "RESULT_COLUMNS", "RUN_COLUMNS", "STOP_GRACE_SECONDS", "STORE_PATIENCE_SECONDS",
    "ABLATION_COLUMNS", "ABLATION_RUN_COLUMNS", "Patience", "RegisteredVersion", "RunEvaluation", "RunLogger", "RunState",
    "RunStore", "RunSummary", "RunsPage", "StoreError", "StoreUnavailable", "StoreWaitStopped", "default_store_dir",
    "default_tracking_uri", "describe_store", "differing_params", "file_sha256", "git_commit", "heartbeat", "lineage",
    "login", "run_schema", "snapshot_name", "store_folder", "store_place", "worker_process",
    "Heartbeat", "stale_after_seconds", "Lineage", "lineage_of", "lineage_tags", "RESULT_METRICS", "TEST_ACCURACY",
    "TEST_PREFIX", "threshold_times", "thresholds_reached", "with_elapsed", "SystemMetrics",
]

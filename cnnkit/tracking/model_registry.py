"""MLflow's Model Registry: finished runs' models registered under a name, and the registered
versions read back with the runs that trained them (the Classify page's picker)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException

from cnnkit.errors import InputError
from cnnkit.tracking._store_client import StoreClient, as_input_error, paged
from cnnkit.tracking.run_schema import MLMODEL_ARTIFACT, MODEL_ARTIFACT

OLD_RUN_NOTE = ("This run was logged before cnnkit saved MLflow Models: cnnkit's Classify page uses this version, "
                "but mlflow.pyfunc.load_model and `mlflow models serve` can't (retrain the run to serve it).")


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a model in MLflow's Model Registry, and the run that trained it."""

    name: str
    version: int
    run_id: str
    created: pd.Timestamp
    note: str = ""  # what the version can't do (a run logged before MLflow Models), kept as its description

    @property
    def uri(self) -> str:
        """The version's address for MLflow's loaders and `mlflow models serve -m`."""
        return f"models:/{self.name}/{self.version}"


class ModelRegistry(StoreClient):
    """Registering runs' models and listing the registered versions."""

    def register_model(self, run_id: str, name: str) -> RegisteredVersion:
        """Register a finished run's model under `name` (created on first use; a new version after that)."""
        client = self._client
        name = name.strip()
        if not name:
            raise InputError("A registered model needs a name.")
        with as_input_error():
            run = client.get_run(run_id)
        if run.info.status != "FINISHED":
            raise InputError(f"Run '{run.info.run_name}' is {run.info.status}: only a finished run's model can be "
                             "registered.")
        folder = str(Path(MODEL_ARTIFACT).parent)
        saved = {artifact.path for artifact in client.list_artifacts(run_id, folder)}
        if MODEL_ARTIFACT not in saved:
            raise InputError(f"Run '{run.info.run_name}' has no saved model to register.")
        note = "" if MLMODEL_ARTIFACT in saved else OLD_RUN_NOTE
        with as_input_error():
            try:
                client.create_registered_model(name, description="A cnnkit run's model: an MLflow Model taking image "
                                                                 "files, with the Keras file model.keras.")
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            version = client.create_model_version(name, source=f"{run.info.artifact_uri}/{folder}", run_id=run_id,
                                                  description=note or None)
        return _registered(version)

    def registered_models(self, run_id: str | None = None) -> list[RegisteredVersion]:
        """Every registered version trained by a run (of `run_id` only, when given): names in
        alphabetical order, newest version first."""
        filter_string = f"run_id = '{run_id}'" if run_id else ""
        versions = paged(lambda count, token: self._client.search_model_versions(filter_string, max_results=count,
                                                                                  page_token=token))
        return sorted((_registered(version) for version in versions if version.run_id),
                      key=lambda version: (version.name.lower(), -version.version))


def _registered(version) -> RegisteredVersion:
    return RegisteredVersion(version.name, int(version.version), version.run_id,
                             pd.Timestamp(version.creation_timestamp, unit="ms"),
                             note=OLD_RUN_NOTE if version.description == OLD_RUN_NOTE else "")

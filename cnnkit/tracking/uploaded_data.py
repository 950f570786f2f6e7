"""Uploaded data kept with its run, for a worker on another machine to fetch."""

from __future__ import annotations

from pathlib import Path

from mlflow.exceptions import MlflowException

from cnnkit.datasets import name_file
from cnnkit.tracking._store_client import StoreClient
from cnnkit.tracking.patience import Patience
from cnnkit.tracking.run_schema import UPLOADED_DATASET_FOLDER


class UploadedData(StoreClient):
    """A run's uploaded CSV or zip, kept and fetched."""

    def log_uploaded_dataset(self, run_id: str, path: Path) -> None:
        """Keep the run's uploaded CSV or zip with it (and the name it was uploaded under, for messages),
        where a worker on another machine can fetch it."""
        Patience().call(lambda: self._client.log_artifact(run_id, str(path), UPLOADED_DATASET_FOLDER))
        if name_file(path).is_file():
            Patience().call(lambda: self._client.log_artifact(run_id, str(name_file(path)), UPLOADED_DATASET_FOLDER))

    def fetch_uploaded_dataset(self, run_id: str, name: str, folder: Path) -> Path | None:
        """The run's uploaded file `name`, downloaded into `folder`; None when the run holds none."""
        try:
            return Path(self._client.download_artifacts(run_id, f"{UPLOADED_DATASET_FOLDER}/{name}", str(folder)))
        except (MlflowException, OSError):
            return None

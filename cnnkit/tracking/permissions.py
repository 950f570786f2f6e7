"""Who may launch runs: experiments found or created (not by a tracking server's read-only user),
the logged-in user's permission asked of MLflow's auth app before any run exists, and a server's
refusals (login or permission) as one StoreError line."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2

import cnnkit.tracking.store_opening as store_opening
from cnnkit.tracking._store_client import StoreClient
from cnnkit.tracking.store_address import DEFAULT_EXPERIMENT, login, shown_uri
from cnnkit.tracking.store_opening import StoreError, login_refused

_PERMISSIONS_TO_WRITE = ("EDIT", "MANAGE")  # MLflow's basic-auth permissions whose holders may create runs
_experiment_lock = threading.Lock()


class LaunchPermissions(StoreClient):
    """The store's experiments and whether this user may launch runs in them."""

    def check_can_launch(self, experiment: str = DEFAULT_EXPERIMENT) -> None:
        """StoreError when the user logged in to a tracking server may not create runs in `experiment`
        (a READ permission), asked of MLflow's auth app before any run exists, and before the experiment
        does (see `_permission`). Stores without logins pass."""
        user = _server_login(self.tracking_uri)
        if user is None:
            return
        with refusal_as_store_error(self.tracking_uri, experiment):
            found = self._client.get_experiment_by_name(experiment)
        permission = _permission(self.tracking_uri, user, found.experiment_id if found else "*")
        if permission is not None and permission not in _PERMISSIONS_TO_WRITE:
            raise StoreError(_denied(self.tracking_uri, experiment, permission))

    def experiment_id(self, name: str = DEFAULT_EXPERIMENT) -> str:
        """The id of experiment `name`, created on first use, though not by a tracking server's user who
        may not write to experiments at large (see `_permission`): PERMISSION_DENIED. With a local SQLite
        store its artifacts go next to the database (mlruns/artifacts), not into the working directory."""
        with _experiment_lock:
            experiment = self._client.get_experiment_by_name(name)
            if experiment is not None:
                return experiment.experiment_id
            user = _server_login(self.tracking_uri)
            permission = None if user is None else _permission(self.tracking_uri, user, "*")
            if permission is not None and permission not in _PERMISSIONS_TO_WRITE:
                raise MlflowException(f"User {user[0]} may not create experiment {name!r} (permission {permission}).",
                                      error_code=databricks_pb2.PERMISSION_DENIED)
            uri = self.tracking_uri
            location = None
            if uri.startswith("sqlite:///"):
                location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
            return self._client.create_experiment(name, artifact_location=location)


def _server_login(uri: str) -> tuple[str, str] | None:
    """The login (user, password) to the tracking server at `uri`; None for a store without logins."""
    user = login()
    return user if user is not None and uri.startswith(("http://", "https://")) else None


def _permission(uri: str, user: tuple[str, str], experiment: str) -> str | None:
    """The logged-in `user`'s permission on experiment id `experiment`, from MLflow's auth app. "*" asks
    for experiments at large, which a new one is created under: a grant on all of them, else the
    server's default_permission (MLflow lets any user create an experiment and makes them its manager,
    so a read-only user's first launch would otherwise make the shared experiment theirs). MANAGE for the
    server's admins, who may do anything. None when the server doesn't say (no auth app, unreachable:
    creating the run says what is wrong)."""
    import requests

    base, timeout = uri.rstrip("/"), store_opening.STORE_REACH_SECONDS
    try:
        answer = requests.get(f"{base}/api/3.0/mlflow/users/permissions/get", auth=user, timeout=timeout,
                              params={"username": user[0], "resource_type": "experiment", "resource_id": experiment})
        permission = answer.json().get("permission") if answer.ok else None
        if permission is None or permission in _PERMISSIONS_TO_WRITE:
            return permission
        account = requests.get(f"{base}/api/2.0/mlflow/users/get", params={"username": user[0]}, auth=user,
                               timeout=timeout)
        is_admin = account.ok and account.json().get("user", {}).get("is_admin") is True
    except (requests.RequestException, ValueError):
        return None
    return "MANAGE" if is_admin else permission


def _denied(uri: str, experiment: str, permission: str | None = None) -> str:
    user = login()
    held = f" (permission {permission})" if permission else ""
    return (f"User {user[0] if user else '(none)'} may not launch runs in experiment '{experiment}' on "
            f"{shown_uri(uri)}{held}: that needs EDIT permission, which the server's admin can grant.")


@contextlib.contextmanager
def refusal_as_store_error(uri: str, experiment: str):
    """A tracking server's refusal (login or permission) as one StoreError line; other errors pass."""
    try:
        yield
    except MlflowException as error:
        if error.error_code == "PERMISSION_DENIED":
            raise StoreError(_denied(uri, experiment)) from None
        if error.error_code == "UNAUTHENTICATED":
            raise StoreError(login_refused(uri)) from None
        raise

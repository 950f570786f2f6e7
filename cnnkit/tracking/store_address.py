"""Where runs go: the store's URI (MLFLOW_TRACKING_URI or ./mlruns/mlflow.db), the folder for
files kept beside it, the login sent to a tracking server, and how messages name the store
(never with a password in it)."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

DEFAULT_EXPERIMENT = "cnnkit"


def default_store_dir() -> Path:
    return Path.cwd() / "mlruns"


def store_folder(tracking_uri: str | None = None) -> Path:
    """The folder for files kept beside the store: a SQLite store's own folder, else ./mlruns."""
    uri = tracking_uri or default_tracking_uri()
    return Path(uri.removeprefix("sqlite:///")).parent if uri.startswith("sqlite:///") else default_store_dir()


def store_place(tracking_uri: str) -> str:
    """Where the store keeps its data, for messages: a SQLite store's file, else its URI (no password)."""
    return tracking_uri.removeprefix("sqlite:///") if tracking_uri.startswith("sqlite:///") else shown_uri(tracking_uri)


def default_tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else SQLite at ./mlruns/mlflow.db."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_store_dir() / 'mlflow.db'}"


def login() -> tuple[str, str] | None:
    """(user, password) a tracking server with logins gets: MLFLOW_TRACKING_USERNAME and
    MLFLOW_TRACKING_PASSWORD, which MLflow's client sends too; None when no user is set."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    return (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", "")) if user else None


def describe_store(tracking_uri: str | None = None) -> str:
    """Where runs go, for people: the URI without any password in it, and the user logged in to a server."""
    uri = tracking_uri or default_tracking_uri()
    user = login()
    return f"{shown_uri(uri)} as {user[0]}" if user and uri.startswith(("http://", "https://")) else shown_uri(uri)


def shown_uri(uri: str) -> str:
    """The URI with a password in it masked."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    return parts._replace(netloc=f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")).geturl()

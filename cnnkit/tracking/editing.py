"""Changing runs by hand: renaming, people's tags (never the reserved ones) and soft deletion."""

from __future__ import annotations

import posixpath
import re

from cnnkit.errors import InputError
from cnnkit.tracking._store_client import StoreClient, as_input_error
from cnnkit.tracking.run_schema import RESERVED_TAG_PREFIXES

# MLflow's own rule for tag names (mlflow.utils.validation), checked first so the message names the field.
_TAG_KEY = re.compile(r"[/\w.\- :]+")
_MAX_TAG_KEY_LENGTH = 250


class RunEditing(StoreClient):
    """A person's changes to runs; a server's refusal to let this user change one is an InputError."""

    def rename_run(self, run_id: str, name: str) -> None:
        if not name.strip():
            raise InputError("A run's name can't be empty.")
        with as_input_error():
            self._client.update_run(run_id, name=name.strip())

    def set_run_tag(self, run_id: str, key: str, value: str = "") -> None:
        """Set a person's tag on a run (`value` may be empty: the tag is then a plain label)."""
        key = _user_tag_key(key)
        with as_input_error():
            self._client.set_tag(run_id, key, value)

    def delete_run_tag(self, run_id: str, key: str) -> None:
        key = _user_tag_key(key)
        with as_input_error():
            self._client.delete_tag(run_id, key)

    def delete_run(self, run_id: str) -> None:
        """Soft delete: the run leaves the runs table; MLflow can still restore it."""
        with as_input_error():
            self._client.delete_run(run_id)


def _user_tag_key(key: str) -> str:
    key = key.strip()
    if not key:
        raise InputError("A tag needs a name.")
    if key.startswith(RESERVED_TAG_PREFIXES):
        raise InputError(
            f"Tag '{key}' is reserved: names starting with {', '.join(RESERVED_TAG_PREFIXES)} are written by "
            "MLflow and cnnkit. Choose another name."
        )
    path = posixpath.normpath(key)  # MLflow may keep tags as files: a name must be its own path
    if (len(key) > _MAX_TAG_KEY_LENGTH or not _TAG_KEY.fullmatch(key) or path != key or path == "."
            or path.startswith(("..", "/"))):
        raise InputError(f"Tag '{key}' can't be a tag's name: use at most {_MAX_TAG_KEY_LENGTH} letters, digits, "
                         "spaces and _ - . : /, not starting with '..' or '/', with no '..' or '//' part and no '/' "
                         "at the end.")
    return key

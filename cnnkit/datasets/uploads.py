"""Uploaded datasets, stored by content, so training threads (and relaunches) can read them by path."""

import hashlib
import io
import os
import zipfile
from pathlib import Path

from cnnkit.errors import InputError

UPLOAD_KINDS = {".csv": "csv", ".zip": "folder"}
MAX_UPLOAD_BYTES = 200 * 2**20


def save_upload(data: bytes, filename: str, directory: str | os.PathLike) -> tuple[str, Path]:
    """Keep an uploaded CSV or zip under a name derived from its content.

    Returns (dataset name, stored path). The content is only checked for its kind here;
    the loader reports what is wrong inside it.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_KINDS:
        raise InputError(f"{filename} is not a .csv or .zip file; upload a Kaggle-style CSV or a zip of class folders.")
    if not data:
        raise InputError(f"{filename} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"{filename} is {len(data) / 2**20:.0f} MB; uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MB.")
    if suffix == ".zip" and not zipfile.is_zipfile(io.BytesIO(data)):
        raise InputError(f"{filename} is not a valid zip file.")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}{suffix}"
    if not path.exists():
        partial_path = path.with_suffix(suffix + ".part")
        partial_path.write_bytes(data)
        partial_path.replace(path)
    return UPLOAD_KINDS[suffix], path.resolve()

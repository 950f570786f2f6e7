"""Uploaded datasets, stored by content, so training threads (and relaunches) can read them by path.

The stored name (`<sha256 prefix>.csv`) says nothing to the person who uploaded `train.csv`, so the
uploaded name is kept beside it (`<stored name>.name`) and the loaders' messages use it (`shown_name`).
"""

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

from cnnkit.errors import InputError

UPLOAD_KINDS = {".csv": "csv", ".zip": "folder"}
MAX_UPLOAD_BYTES = 200 * 2**20
NAME_SUFFIX = ".name"  # beside a stored upload: the name it was uploaded under
_STORED_NAME = re.compile(r"[0-9a-f]{20}\.(csv|zip)")
_MAX_NAME_CHARS = 200


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
        _write_whole(path, data)
    _write_whole(name_file(path), _plain_name(filename).encode())
    return UPLOAD_KINDS[suffix], path.resolve()


def shown_name(path: str | os.PathLike) -> str:
    """What messages call the dataset at `path`: the name it was uploaded under for a stored upload
    (the latest one, for the same content uploaded under two names), else the path itself."""
    path = Path(path)
    if _STORED_NAME.fullmatch(path.name):
        try:
            with name_file(path).open("rb") as file:
                name = _plain_name(file.read(1024).decode("utf-8", "replace"))
        except OSError:  # an upload stored before names were kept, or fetched by a worker without its name
            name = ""
        if name:
            return name
    return str(path)


def name_file(path: Path) -> Path:
    """Where the name a stored upload was uploaded under is kept: beside it."""
    return path.with_name(path.name + NAME_SUFFIX)


def _plain_name(filename: str) -> str:
    """The file name alone, one line, of bounded length."""
    name = "".join(char for char in Path(filename.replace("\\", "/")).name if char.isprintable())
    return name.strip()[:_MAX_NAME_CHARS]


def _write_whole(path: Path, data: bytes) -> None:
    partial_path = path.with_name(path.name + ".part")
    partial_path.write_bytes(data)
    partial_path.replace(path)

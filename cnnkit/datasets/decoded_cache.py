"""Decoded copies of the official dataset files on local disk, so only the first load decodes.

Decompressing MNIST's gzip IDX files takes about 0.3 s and reading CIFAR's tar.gz of pickles
several seconds, on every load: each training run, each change of the Train page's data settings
in a new server process. The decoded arrays are kept as `.npy` files (one folder per source) in
CNNKIT_CACHE_DIR (default: `$XDG_CACHE_HOME/cnnkit/decoded`, else `~/.cache/cnnkit/decoded`;
`off` turns the cache off), named after the source files' paths and keyed by their sizes and
modification times: a changed file is decoded again and its old copy removed.

Copies are mapped read-only, so a load reads only the pages it uses, once (the split's copy), and
with `allow_pickle=False` (a planted file can give wrong pixels, never run code).
A folder that cannot be written, or a copy that cannot be read, costs only the decoding.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "CNNKIT_CACHE_DIR"
FORMAT = "1"  # bump when a decoder's output changes: every older copy is then decoded again


def cache_dir() -> Path | None:
    """Where decoded copies live; None when CNNKIT_CACHE_DIR is `off`."""
    value = os.environ.get(CACHE_DIR_VARIABLE)
    if value:
        return None if value.strip().lower() == "off" else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnkit" / "decoded"


def cached_arrays(sources: Sequence[Path], decode: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """`decode()`'s arrays, mapped read-only from the decoded copy of `sources` when one matches them."""
    folder = cache_dir()
    if folder is None:
        return decode()
    resolved = [Path(source).resolve() for source in sources]
    family = _digest([FORMAT, *map(str, resolved)])
    stats = [source.stat() for source in resolved]
    copy = folder / f"{family}-{_digest([f'{stat.st_size}:{stat.st_mtime_ns}' for stat in stats])}"
    arrays = _read(copy)
    if arrays is None:
        arrays = decode()
        _write(copy, arrays, family)
    return arrays


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def _read(copy: Path) -> dict[str, np.ndarray] | None:
    """The copy's arrays as read-only views of the files (mapped: nothing is read until used)."""
    if not copy.is_dir():
        return None
    try:
        return {array.stem: np.asarray(np.load(array, mmap_mode="r", allow_pickle=False))
                for array in copy.glob("*.npy")} or None
    except (OSError, ValueError, EOFError) as error:
        log.warning("Decoding again: the decoded copy %s is unreadable (%s).", copy, error)
        shutil.rmtree(copy, ignore_errors=True)
        return None


def _write(copy: Path, arrays: dict[str, np.ndarray], family: str) -> None:
    """Write the copy whole or not at all (a folder renamed into place), and drop this source's older copies."""
    partial = None
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=copy.parent, prefix=".partial-"))
        for name, array in arrays.items():
            np.save(partial / f"{name}.npy", array, allow_pickle=False)
        os.replace(partial, copy)  # fails if another process put its copy there first: theirs is as good
        partial = None
        for older in copy.parent.glob(f"{family}-*"):
            if older != copy:
                shutil.rmtree(older, ignore_errors=True)
    except OSError as error:
        log.info("No decoded copy kept in %s (%s): the next load decodes again.", copy.parent, error)
    finally:
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)

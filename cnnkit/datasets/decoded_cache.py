"""Decoded copies of the official dataset files on local disk, so only the first load decodes.

Decompressing MNIST's gzip IDX files takes about 0.3 s and reading CIFAR's tar.gz of pickles
several seconds, on every load: each training run, each change of the Train page's data settings
in a new server process. The decoded arrays are kept as `.npy` files (one folder per source) in
CNNKIT_CACHE_DIR (default: `$XDG_CACHE_HOME/cnnkit/decoded`, else `~/.cache/cnnkit/decoded`;
`off` turns the cache off), named after the source files' paths and keyed by their contents'
SHA-256: a changed file is decoded again (even with the same size and modification time) and its
old copy removed. Hashing MNIST's 11 MB of gzip files takes about 15 ms.

Each copy records its arrays' own SHA-256 (`hashes.json`, written with them), checked before every
use: a copy changed on disk (say, labels all set to 7) is decoded again and replaced, with a
warning naming the file. That check reads every array once per load (MNIST's 55 MB: about 70 ms;
a cached MNIST load takes 0.1-0.15 s instead of 0.03 s; decoding takes 0.3-0.5 s). Arrays are then mapped
read-only and read with `allow_pickle=False` (a planted file can never run code).
A folder that cannot be written, or a copy that cannot be read, costs only the decoding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "CNNKIT_CACHE_DIR"
HASHES = "hashes.json"  # each array file's SHA-256, as written
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
    copy = folder / f"{family}-{_digest([_file_sha256(source) for source in resolved])}"
    arrays = _read(copy, ", ".join(source.name for source in resolved))
    if arrays is None:
        arrays = decode()
        _write(copy, arrays, family)
    return arrays


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def _file_sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _read(copy: Path, sources: str) -> dict[str, np.ndarray] | None:
    """The copy's arrays as read-only views of the files, each checked against its recorded SHA-256."""
    if not copy.is_dir():
        return None
    try:
        recorded = json.loads((copy / HASHES).read_text())
        if not isinstance(recorded, dict) or not recorded:
            raise ValueError(f"{HASHES} lists no arrays")
        for name, digest in recorded.items():
            if Path(name).name != name or not name.endswith(".npy"):
                raise ValueError(f"{HASHES} names {name!r}, not an array file of the copy")
            if _file_sha256(copy / name) != digest:
                log.warning("Decoding %s again: its decoded copy %s does not match the SHA-256 recorded when it "
                            "was written (it was changed on disk).", sources, copy / name)
                shutil.rmtree(copy, ignore_errors=True)
                return None
        return {Path(name).stem: np.asarray(np.load(copy / name, mmap_mode="r", allow_pickle=False))
                for name in recorded}
    except (OSError, ValueError, EOFError, TypeError, AttributeError) as error:
        log.warning("Decoding %s again: its decoded copy %s is unreadable (%s).", sources, copy, error)
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
        (partial / HASHES).write_text(json.dumps({f"{name}.npy": _file_sha256(partial / f"{name}.npy")
                                                  for name in arrays}))
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

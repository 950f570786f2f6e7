"""Reading files a visitor names or uploads without letting them read secrets or exhaust the server.

One place for: regular files only (no FIFOs, devices or sockets, nor symlinks to them) with their size checked before reading and
reads bounded, and zips opened safely (entries checked before reading, streamed with a byte cap).
Messages name the file and the problem, never the file's contents.
"""

import os
import stat
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath, PureWindowsPath
from typing import BinaryIO

from cnnkit.errors import InputError


MAX_ZIP_ENTRIES = 20_000
MAX_ZIP_BYTES = 2 * 1024**3  # what a zip may unpack to in all
MAX_ENTRY_BYTES = 64 * 2**20  # one image file: a zip entry or a file in a class folder
MAX_COMPRESSION_RATIO = 100  # unpacked / packed, for entries over COMPRESSION_CHECKED_FROM bytes
COMPRESSION_CHECKED_FROM = 2**20

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _size(size: int) -> str:
    """"3.0 GiB", "64 MB", "1,000 bytes"."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GiB"
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size:,} bytes"


# --- Regular files, size checked, reads bounded -----------------------------------------------


def open_regular(path: str | os.PathLike, max_bytes: int, name: str | None = None) -> BinaryIO:
    """`path` opened for binary reading when it is a regular file of at most `max_bytes`.

    A FIFO, device, socket or folder (or a symlink to one) is refused before it is opened, and
    checked again once open, so opening never blocks and nothing but a file's bytes is read.
    """
    name = name or str(path)
    _check_regular(_stat(path, name), name, max_bytes)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise InputError(f"Cannot read {name} ({err.strerror}).") from err
    file = os.fdopen(descriptor, "rb")
    try:
        _check_regular(os.fstat(descriptor), name, max_bytes)  # it may have been swapped since the first look
    except InputError:
        file.close()
        raise
    return file


def read_regular(path: str | os.PathLike, max_bytes: int, name: str | None = None) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see `open_regular`), never more."""
    name = name or str(path)
    with open_regular(path, max_bytes, name) as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise InputError(f"{name} is larger than {_size(max_bytes)}, the most allowed.")
    return data


def _stat(path: str | os.PathLike, name: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError as err:
        raise InputError(f"{name} does not exist.") from err
    except OSError as err:
        raise InputError(f"Cannot read {name} ({err.strerror}).") from err


def _check_regular(info: os.stat_result, name: str, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((kind for test, kind in _KINDS if test(info.st_mode)), "not a regular file")
        raise InputError(f"{name} is {kind}, not a regular file; only regular files are read.")
    if info.st_size > max_bytes:
        raise InputError(f"{name} is {_size(info.st_size)}; files are limited to {_size(max_bytes)}.")


# --- Zips ---------------------------------------------------------------------------------------

# What reading a zip member can raise (RuntimeError: encrypted member, NotImplementedError:
# unsupported compression).
READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, RuntimeError, NotImplementedError)


def zip_path(name: str) -> PurePosixPath:
    """An entry's name as a path, with Windows separators turned into slashes."""
    return PurePosixPath(name.replace("\\", "/"))


@contextmanager
def open_zip(file: BinaryIO, source: str, max_total: int | None = None) -> Iterator[
        tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]]:
    """The open archive and its entries as `zip_entries` checks them (see there for `max_total`);
    a file that is not a zip, or one found damaged while the block reads it, is an InputError
    naming `source`."""
    try:
        with zipfile.ZipFile(file) as archive:
            yield archive, zip_entries(archive, source, max_total)
    except zipfile.BadZipFile as err:
        raise InputError(f"{source} is not a valid zip file ({err}).") from err


def zip_entries(archive: zipfile.ZipFile, source: str, max_total: int | None = None) -> list[zipfile.ZipInfo]:
    """The archive's entries, after refusing the whole zip, before anything is unpacked, when it
    has too many entries, unpacks to more than `max_total` bytes (default MAX_ZIP_BYTES), has an
    entry larger than MAX_ENTRY_BYTES or compressed more than MAX_COMPRESSION_RATIO times (a zip
    bomb), an entry pointing outside it (`..`, an absolute path, a drive letter), a symbolic link,
    or two entries with the same name."""
    entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES:
        raise InputError(f"{source} holds {len(entries):,} entries; at most {MAX_ZIP_ENTRIES:,} are allowed.")
    max_total = MAX_ZIP_BYTES if max_total is None else max_total
    total = sum(entry.file_size for entry in entries)
    if total > max_total:
        raise InputError(f"{source} unpacks to {_size(total)}; at most {_size(max_total)} are allowed.")
    for entry in entries:
        _check_entry(entry, source)
    duplicates = [name for name, count in Counter(zip_path(e.filename) for e in entries).items() if count > 1]
    if duplicates:
        raise InputError(f"{source} holds the entry '{duplicates[0]}' more than once"
                         f"{f' (and {len(duplicates) - 1} more duplicated)' if len(duplicates) > 1 else ''}; "
                         "the zip is refused: keep one of each.")
    return entries


def _check_entry(entry: zipfile.ZipInfo, source: str) -> None:
    path = zip_path(entry.filename)
    if path.is_absolute() or ".." in path.parts or PureWindowsPath(entry.filename).drive:
        raise InputError(
            f"{source} contains the entry '{entry.filename}', which points outside the archive; the zip is refused.")
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise InputError(f"{source} contains the entry '{entry.filename}', a symbolic link; the zip is refused.")
    if entry.file_size > MAX_ENTRY_BYTES:
        raise InputError(f"{source}: '{entry.filename}' unpacks to {_size(entry.file_size)}; "
                         f"an entry may hold at most {_size(MAX_ENTRY_BYTES)}.")
    if entry.file_size > COMPRESSION_CHECKED_FROM and entry.file_size > MAX_COMPRESSION_RATIO * entry.compress_size:
        ratio = entry.file_size / max(entry.compress_size, 1)
        raise InputError(f"{source}: '{entry.filename}' is compressed {ratio:,.0f}"
                         f" times, more than the {MAX_COMPRESSION_RATIO} allowed (a zip bomb?); the zip is refused.")


def read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, source: str) -> bytes:
    """An entry's bytes. zipfile unpacks no more than the entry's declared size, which
    `zip_entries` has capped, and refuses an entry whose data doesn't match it (bad CRC)."""
    try:
        return archive.read(entry)
    except READ_ERRORS as err:  # encrypted, unsupported compression, corrupt data
        raise InputError(f"Cannot read '{entry.filename}' in {source} ({err}).") from err

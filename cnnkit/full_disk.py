"""A full disk: told apart from a store that is only busy (a full disk is never waited out), and
named by the place that is full, so a run that fails on it can say where in one line.

Libraries wrap the OSError of a full disk in their own errors (MLflow, h5py), and SQLite says it
in words ("database or disk is full"), so the whole chain of causes is looked at.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Callable, Iterator

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded")


class DiskFull(OSError):
    """No space left on the disk holding `filename`: a folder or a file a run writes to."""

    def __init__(self, place: str | Path):
        super().__init__(errno.ENOSPC, os.strerror(errno.ENOSPC), str(place))


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it was raised from or while handling, and so on."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` comes from a full disk (or a full quota), however it was wrapped."""
    return any((isinstance(cause, OSError) and cause.errno in _FULL_ERRNOS)
               or any(words in str(cause).lower() for words in _FULL_WORDS) for cause in causes(error))


def full_place(error: BaseException) -> str | None:
    """The place a DiskFull in `error`'s chain names; None when none does."""
    return next((cause.filename for cause in causes(error) if isinstance(cause, DiskFull)), None)


@contextlib.contextmanager
def named(place: str | Path | Callable[[], str]):
    """A full disk met inside the block is raised again as DiskFull naming `place` (or what
    `place()` gives: it is called only then), unless an inner block named it already."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as error:
        if not is_disk_full(error):
            raise
        raise DiskFull(place() if callable(place) else place) from error

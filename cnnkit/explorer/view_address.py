"""A page's view kept in the address bar: the chosen runs and the view's main options as query
parameters, so that a reload or a shared link opens the same view (Compare, Inspect).

Pure: query parameters (name -> text) in and out. Each parameter is read by its own reader, which
raises ValueError for a text it can't take; such a parameter is left out, so the page's default
stands. A link is typed or pasted by a person: it never makes an error on a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping

FINAL = "final"  # an epoch parameter's value for the finished run
_RUN_ID = re.compile(r"[0-9a-f]{32}")  # an MLflow run id
_TEXT = re.compile(r"[\w .\-/:]{1,100}")  # a layer's or a metric's name
Reader = Callable[[str], object]


def run_ids(text: str) -> list[str]:
    """Comma-separated run ids, each once, in order."""
    ids = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not ids or not all(map(_RUN_ID.fullmatch, ids)):
        raise ValueError(f"not run ids: {text!r}")
    return list(dict.fromkeys(ids))


def run_id(text: str) -> str:
    ids = run_ids(text)
    if len(ids) != 1:
        raise ValueError(f"not one run id: {text!r}")
    return ids[0]


def whole_number(low: int, high: int) -> Reader:
    def read(text: str) -> int:
        number = int(text)
        if not low <= number <= high:
            raise ValueError(f"{number} is not from {low} to {high}")
        return number
    return read


def one_of(choices: Collection[str]) -> Reader:
    def read(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is none of {sorted(choices)}")
        return text
    return read


def name(text: str) -> str:
    """A name the page checks itself (a layer's, a metric's): letters, digits and a few signs."""
    if not _TEXT.fullmatch(text):
        raise ValueError(f"not a name: {text!r}")
    return text


def epoch(text: str) -> int | None:
    """A snapshot's epoch, or None for FINAL (the finished run)."""
    return None if text == FINAL else whole_number(1, 100_000)(text)


def read(params: Mapping[str, str], readers: Mapping[str, Reader]) -> dict[str, object]:
    """The values of the parameters in `params` that `readers` knows and can read."""
    values = {}
    for key, reader in readers.items():
        if key in params:
            try:
                values[key] = reader(str(params[key]))
            except ValueError:
                continue
    return values


def write(values: Mapping[str, object], defaults: Mapping[str, object] | None = None) -> dict[str, str]:
    """Query parameters for `values`, leaving out None and each value equal to its default (a clean
    address for the default view); lists are written comma-separated, ints as digits."""
    defaults = defaults or {}
    params = {}
    for key, value in values.items():
        if value is None or (key in defaults and defaults[key] == value):
            continue
        params[key] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return params


def gone_note(asked: Iterable[str], found: Collection[str]) -> str | None:
    """A line for the runs a link names that the store no longer has as finished runs, or None."""
    gone = [run for run in asked if run not in found]
    if not gone:
        return None
    runs = ", ".join(run[:6] for run in gone)
    return (f"The link names {'a run' if len(gone) == 1 else f'{len(gone)} runs'} no longer among the finished "
            f"runs in this store ({runs}); {'it is' if len(gone) == 1 else 'they are'} left out.")

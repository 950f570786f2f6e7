"""The Exclude examples setting's lists of example ids as people give them and as a run records them:
typed (a line each, or comma-separated), read from a file (`--set exclude_examples=@ids.txt`: one id per
line, or a CSV with an `id` column such as Inspect's label-issues export), and as the run's param, their
count and SHA-256, since MLflow keeps at most 6,000 characters in a param and thousands of ids are more
(the ids themselves are an artifact, `tracking.run_schema.EXCLUDED_EXAMPLES`)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from cnnkit.config.settings import setting_error

SETTING = "exclude_examples"
FILE_PREFIX = "@"  # `--set exclude_examples=@FILE` reads the ids from FILE (the command line only)
ID_COLUMN = "id"  # a CSV's column of ids (explorer.label_issues writes its ids so)
_PARAM = re.compile(r"([\d,]+) examples?, sha256 ([0-9a-f]{64})")


def ids_digest(ids: Iterable[str]) -> str:
    """SHA-256 hex of example ids, whatever their order or repeats (each once, sorted, one per line)."""
    return hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()


def excluded_param(ids: Iterable[str]) -> str:
    """The excluded examples as a run's param: "37 examples, sha256 <64 hex digits>"; "" for none."""
    unique = set(ids)
    if not unique:
        return ""
    return f"{len(unique):,} example{'s' * (len(unique) != 1)}, sha256 {ids_digest(unique)}"


def excluded_count(text: str, typed: Callable[[str], tuple[str, ...]] | None = None) -> int:
    """How many examples a run's param (`excluded_param`) or a typed list names (`typed` reads it: by default
    as ids, `example_id_list`)."""
    recorded = _PARAM.fullmatch(text.strip())
    return int(recorded.group(1).replace(",", "")) if recorded else len((typed or example_id_list)(text))


def short_param(text: str) -> str:
    """A run's param for a table cell: "37 examples · sha256 4faaff33c654", "none" for none; other text as it is."""
    recorded = _PARAM.fullmatch(text.strip())
    if not text.strip():
        return "none"
    return f"{recorded.group(1)} example{'s' * (recorded.group(1) != '1')} · sha256 {recorded.group(2)[:12]}" \
        if recorded else text


def example_id_list(text: str) -> tuple[str, ...]:
    """Example ids a person typed: one per line, or comma-separated on one line (a folder's path may hold a
    comma, so it goes on a line of its own); blanks dropped, each once, sorted."""
    items = text.splitlines() if "\n" in text.strip() else text.split(",")
    return tuple(sorted({item.strip() for item in items if item.strip()}))


def ids_of_file_text(text: str) -> tuple[str, ...]:
    """The ids in a file's text: a CSV whose header has an `id` column gives that column, anything else
    one id per line."""
    lines = text.splitlines()
    header = next(csv.reader(lines[:1]), []) if lines else []
    if ID_COLUMN in [cell.strip() for cell in header] and len(header) > 1:
        rows = csv.DictReader(io.StringIO(text), skipinitialspace=True)
        rows.fieldnames = [name.strip() for name in rows.fieldnames or []]
        return tuple(sorted({(row.get(ID_COLUMN) or "").strip() for row in rows} - {""}))
    return tuple(sorted({line.strip() for line in lines if line.strip()}))


def with_id_files(changes: Mapping[str, str]) -> dict[str, object]:
    """`key=value` settings from the command line with an `@FILE` value of a list setting (`FILE_READERS`)
    read from FILE. Only the command line reads files this way: the app's forms never do."""
    read = dict(changes)
    for setting, parse in FILE_READERS.items():
        value = changes.get(setting)
        if not isinstance(value, str) or not value.startswith(FILE_PREFIX):
            continue
        path = Path(value[len(FILE_PREFIX):]).expanduser()
        try:
            read[setting] = parse(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise setting_error(setting, f"can't read {path}: {getattr(error, 'strerror', None) or error}.") from None
    return read


# setting -> how `with_id_files` reads its file's text; the Relabel examples setting adds its own reader
FILE_READERS: dict[str, Callable[[str], tuple[str, ...]]] = {SETTING: ids_of_file_text}

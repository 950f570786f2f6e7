"""The Relabel examples setting: training examples given another class, for the csv and folder datasets.

A person types a line per example, `id,new_label` (the example's stable id, a comma, the class name it should
have; an id may hold commas, a class name may not, so the line splits at its last comma). The command line
reads them from a file (`--set relabel_examples=@FILE`): a CSV with `id` and `new_label` columns, or
Inspect's label-issues export, whose `suggested_label` is taken. The config keeps them as such lines, each
once, sorted; the run's param is their count and SHA-256 (`excluded_examples.excluded_param` of the lines),
the lines themselves an artifact (`tracking.run_schema.RELABEL_EXAMPLES`, as `relabels_csv` writes it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import cnnkit.config.excluded_examples as excluded_examples

SETTING = "relabel_examples"
NEW_LABEL_COLUMNS = ("new_label", "suggested_label")  # a file's column of new labels, the first one it has
RELABELLABLE = ("csv", "folder")  # the datasets that have a file to write a corrected copy of


def pair_line(example_id: str, new_label: str) -> str:
    return f"{example_id.strip()},{new_label.strip()}"


def relabel_lines(text_or_lines: str | Iterable[str]) -> tuple[str, ...]:
    """Typed `id,new_label` lines (a text, or its lines) as the setting keeps them: spaces around each part
    dropped, blanks dropped, each once, sorted. A line without a comma stays as it is, for `problem` to name."""
    lines = text_or_lines.splitlines() if isinstance(text_or_lines, str) else text_or_lines
    kept = set()
    for line in (line.strip() for line in lines):
        if line:
            example_id, comma, new_label = line.rpartition(",")
            kept.add(pair_line(example_id, new_label) if comma else line)
    return tuple(sorted(kept))


def relabels(lines: Iterable[str]) -> dict[str, str]:
    """The setting's lines as {example id: new label} (lines well formed: see `problem`)."""
    return dict(line.rpartition(",")[::2] for line in lines)


def problem(lines: tuple[str, ...], dataset: str, max_id_chars: int) -> str | None:
    """What is wrong with the setting's lines before any data is read, for a person; None when nothing is.
    An id that Exclude examples also names is no problem: it is left out, so its label doesn't matter (a label
    audit of a relabelling run excludes each fold's examples, relabelled ones among them)."""
    if not lines:
        return None
    if dataset not in RELABELLABLE:
        return (f"relabelling writes a corrected copy of a csv or folder dataset, and '{dataset}' is neither: "
                "its files stay as they are. Use Exclude examples to train without the doubtful examples.")
    seen: dict[str, str] = {}
    for line in lines:
        example_id, comma, new_label = line.rpartition(",")
        if not comma or not example_id or not new_label or len(example_id) > max_id_chars:
            return (f"{line[:40]!r} is not `id,new_label`: an example's id (at most {max_id_chars} characters), "
                    "a comma, and the class name it should have, one per line.")
        if example_id in seen:
            return f"{example_id[:40]!r} is given two new labels, {seen[example_id]!r} and {new_label!r}: keep one."
        seen[example_id] = new_label
    return None


def relabels_of_file_text(text: str) -> tuple[str, ...]:
    """The `id,new_label` lines of a file: a CSV with an `id` column and a `new_label` (else `suggested_label`)
    column; any other text is read as typed lines."""
    rows = csv.DictReader(io.StringIO(text), skipinitialspace=True)
    names = [name.strip() for name in rows.fieldnames or []]
    column = next((name for name in NEW_LABEL_COLUMNS if name in names), None)
    if excluded_examples.ID_COLUMN not in names or column is None:
        return relabel_lines(text)
    rows.fieldnames = names
    return relabel_lines(pair_line(row.get(excluded_examples.ID_COLUMN) or "", row.get(column) or "")
                         for row in rows if (row.get(excluded_examples.ID_COLUMN) or "").strip())


def relabels_csv(lines: Iterable[str]) -> str:
    """The lines as a CSV with `id` and `new_label` columns (what a run logs, and `relabels_of_file_text` reads)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([excluded_examples.ID_COLUMN, NEW_LABEL_COLUMNS[0]])
    writer.writerows(relabels(lines).items())
    return out.getvalue()


excluded_examples.FILE_READERS[SETTING] = relabels_of_file_text

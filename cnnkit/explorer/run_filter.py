"""The Runs page's filters as one MLflow search filter string, so the store filters and pages runs
instead of the page loading them all.

MLflow's filter grammar joins conditions with AND only, and only `run_id` may be compared with a
list. So the search box is read by its shape (a tag as `key=value` or `key=`, the start of a run
id, else part of a name), and "one of several" statuses, datasets or architectures is written as
"none of the others" over the known values. Text comparisons use (I)LIKE patterns in which a
quote, `%` or `_` typed by the person matches any one character: MLflow has no escape for them. A
dataset digest keeps the runs that logged a dataset input with it (`tracking.dataset_inputs`):
those trained, or tested, on the same data.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from cnnkit.datasets import DATASETS
from cnnkit.errors import InputError

SEARCH_LABEL = "Search name, run id or tag"
DIGEST_LABEL = "Dataset digest"
PAGE_SIZE = 50  # runs the Runs page shows at a time
STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")  # every status MLflow gives a run
_RUN_ID_START = re.compile(r"[0-9a-f]{6,32}")  # at least as much of an id as the pickers show
_TAG_KEY = re.compile(r"[\w .\-/:]+")  # the characters MLflow allows in a tag's name
_DIGEST = re.compile(r"[0-9A-Za-z]{1,36}")  # a digest as MLflow keeps them (cnnkit's: 16 hex digits)


@dataclass(frozen=True)
class RunFilter:
    """What the Runs page's filter widgets hold; empty means no condition."""

    text: str = ""
    statuses: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    digest: str = ""  # a dataset input's digest


def dataset_choices() -> list[str]:
    return sorted(DATASETS)


def arch_choices() -> list[str]:
    from cnnkit.models import ARCHITECTURES  # loads Keras: only when the page is drawn

    return sorted(ARCHITECTURES)


def filter_string(chosen: RunFilter) -> str:
    """The MLflow filter string for `chosen`; InputError (naming the search box) for a tag search
    MLflow can't express."""
    return " AND ".join([
        *search_clauses(chosen.text),
        *one_of("attributes.status", chosen.statuses, STATUSES),
        *one_of("params.dataset", chosen.datasets, dataset_choices()),
        *one_of("params.arch", chosen.arches, arch_choices()),
        *digest_clauses(chosen.digest),
    ])


def search_clauses(text: str, label: str = SEARCH_LABEL) -> list[str]:
    """The search box's text as conditions: `key=value` a tag whose value contains `value`, `key=`
    any run carrying tag `key`, 6 to 32 hex digits the start of a run id, anything else part of
    the run's name, ignoring case. An error names the box by `label`."""
    text = text.strip()
    if not text:
        return []
    if "=" in text:
        key, value = (part.strip() for part in text.split("=", 1))
        if not _TAG_KEY.fullmatch(key):
            raise InputError(f"{label}: write a tag as name=value, its name in letters, digits and _ - . / : "
                             "or spaces.")
        tag = f"tags.`{key}`"
        return [f"{tag} ILIKE {contains(value)}" if value else f"{tag} IS NOT NULL"]
    if _RUN_ID_START.fullmatch(text.lower()):
        return [f"attributes.run_id LIKE '{text.lower()}%'"]
    return [f"attributes.run_name ILIKE {contains(text)}"]


def digest_clauses(digest: str) -> list[str]:
    """Keep the runs with a dataset input of `digest` (MLflow's own search joins them in the store)."""
    digest = digest.strip()
    if not digest:
        return []
    if not _DIGEST.fullmatch(digest):
        raise InputError(f"{DIGEST_LABEL}: a digest is letters and digits only, at most 36 of them, as MLflow shows it.")
    return [f"dataset.digest = '{digest}'"]


def one_of(identifier: str, chosen: Iterable[str], known: Collection[str]) -> list[str]:
    """Conditions keeping runs whose `identifier` is one of `chosen`: equality for one value, else
    inequality to each known value not chosen (runs with a value outside `known` then pass)."""
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        return []
    if len(chosen) == 1:
        return [f"{identifier} LIKE {pattern(chosen[0])}"]
    return [f"{identifier} != {pattern(value)}" for value in sorted(known) if value not in chosen]


def contains(text: str) -> str:
    """A quoted LIKE pattern matching any value that contains `text`."""
    return f"'%{_literal_body(text)}%'"


def pattern(text: str) -> str:
    """`text` quoted for MLflow's parser: a quote in it becomes `_` (any one character)."""
    return f"'{_literal_body(text)}'"


def _literal_body(text: str) -> str:
    return re.sub(r"['\"%\\]", "_", text)

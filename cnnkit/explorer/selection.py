"""Row selections kept by id, so they survive a table's rows being filtered, reordered or refreshed.

A table widget reports ticked rows by position in the rows it showed. Positions change whenever
a filter or a new row changes what is shown, so the selection itself is kept as a list of ids
and only translated to and from positions at the moment a view is drawn or ticked.
"""

from collections.abc import Iterable, Sequence


def after_ticks(selected: Sequence[str], view: Sequence[str], rows: Iterable[int]) -> list[str]:
    """The selection after the user left `rows` ticked (positions in `view`, the ids then shown).

    Ids selected before but not in `view` (hidden by a filter) stay selected; an id in `view` is
    selected exactly when its row is ticked. Earlier picks keep their order and new ones follow
    in row order, so the last id is the latest pick. Positions outside `view` are ignored.
    """
    ticked = {view[row] for row in rows if 0 <= row < len(view)}
    shown = set(view)
    kept = [run for run in selected if run not in shown or run in ticked]
    return kept + [run for run in view if run in ticked and run not in kept]


def rows_of(selected: Iterable[str], view: Sequence[str]) -> list[int]:
    """Positions in `view` of the selected ids, in view order."""
    chosen = set(selected)
    return [row for row, run in enumerate(view) if run in chosen]

"""Selections kept by id while the rows shown change."""

from cnnkit.explorer.selection import after_ticks, rows_of


def test_ticks_select_the_ids_of_their_rows_latest_pick_last():
    assert after_ticks([], ["a", "b", "c"], [2, 0]) == ["a", "c"]
    assert after_ticks(["c"], ["a", "b", "c"], [2, 0]) == ["c", "a"]  # earlier picks keep their place


def test_ids_hidden_from_the_view_stay_selected_and_shown_unticked_ones_are_dropped():
    assert after_ticks(["x", "a", "b"], ["a", "b", "c"], [1]) == ["x", "b"]
    assert after_ticks(["x"], [], []) == ["x"]


def test_positions_outside_the_view_are_ignored():
    assert after_ticks(["a"], ["a", "b"], [0, 5, -1]) == ["a"]


def test_rows_of_finds_the_selected_ids_in_view_order():
    assert rows_of(["c", "x", "a"], ["a", "b", "c"]) == [0, 2]
    assert rows_of([], ["a"]) == []

"""A page's view read from and written to query parameters: bad values are left out, never an error."""

from cnnkit.explorer import view_address as address

A, B = "0123456789abcdef" * 2, "fedcba9876543210" * 2
READERS = {"runs": address.run_ids, "run": address.run_id, "smooth": address.whole_number(1, 50),
           "per": address.one_of(("epoch", "batch")), "layer": address.name, "epoch": address.epoch}


def test_a_view_written_to_the_address_reads_back_the_same():
    view = {"runs": [A, B], "run": A, "smooth": 7, "per": "batch", "layer": "conv2d_1", "epoch": 3}
    params = address.write(view)
    assert params == {"runs": f"{A},{B}", "run": A, "smooth": "7", "per": "batch", "layer": "conv2d_1", "epoch": "3"}
    assert address.read(params, READERS) == view
    assert address.read({"epoch": "final"}, READERS) == {"epoch": None}


def test_defaults_and_nones_leave_the_address_clean():
    assert address.write({"per": "epoch", "smooth": 1, "epoch": None, "runs": [A]},
                         defaults={"per": "epoch", "smooth": 1}) == {"runs": A}


def test_a_value_a_link_spells_wrongly_is_left_out_and_the_others_are_read():
    params = {"runs": f"{A},not-an-id", "run": f"{A},{B}", "smooth": "500", "per": "hour", "layer": "<script>",
              "epoch": "-1", "other": "x"}
    assert address.read(params, READERS) == {}
    assert address.read({"runs": f" {A.upper()},{A}, {B} ", "smooth": "50"}, READERS) == {"runs": [A, B], "smooth": 50}
    assert address.read({"smooth": "2.5"}, READERS) == {}


def test_runs_a_link_names_that_the_store_no_longer_has_get_a_note_naming_them_by_their_short_id():
    assert address.gone_note([A, B], {A, B}) is None
    note = address.gone_note([A, B], {A})
    assert note == ("The link names a run no longer among the finished runs in this store (fedcba); it is left out.")
    assert "2 runs" in address.gone_note([A, B], set()) and "(012345, fedcba)" in address.gone_note([A, B], set())

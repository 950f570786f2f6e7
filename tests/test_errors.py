"""cnnkit.errors: the error a person can fix, naming its setting, and any error as one short line."""

import sqlite3

import pytest
import sqlalchemy.exc

from cnnkit.errors import InputError, SettingError, one_line


def test_an_input_error_names_its_setting_when_it_has_one():
    assert InputError("Epochs must be at least 1.", field="epochs").field == "epochs"
    assert InputError("The store is gone.").field is None
    assert isinstance(InputError("x"), ValueError)  # callers that catch ValueError still catch it


def test_a_setting_error_is_an_input_error_whose_message_is_the_detail_alone():
    error = SettingError("val_fraction", "must be from 0 to 0.9.")
    assert isinstance(error, InputError)
    assert (error.field, str(error)) == ("val_fraction", "must be from 0 to 0.9.")


def test_one_line_keeps_the_first_line_with_its_spaces_squeezed():
    assert one_line(RuntimeError("  RESOURCE_DOES_NOT_EXIST:   run abc\nTraceback (most recent call last): ...")) == (
        "RESOURCE_DOES_NOT_EXIST: run abc")
    assert one_line(KeyError()) == "KeyError"  # no message: its type


def test_one_line_reads_sqlalchemys_wrapped_error_without_its_sql():
    wrapped = sqlalchemy.exc.OperationalError("SELECT * FROM runs WHERE secret = 1", {}, sqlite3.OperationalError(
        "database or disk is full"))
    assert one_line(wrapped) == "database or disk is full"


def test_one_line_prefers_an_errors_own_message_attribute():
    error = RuntimeError("INTERNAL_ERROR: long text")
    error.message = "Run 'abc' not found.\nmore"
    assert one_line(error) == "Run 'abc' not found."


@pytest.mark.parametrize("limit", [10, 200])
def test_a_long_line_is_cut_to_the_limit_with_an_ellipsis(limit):
    line = one_line(ValueError("x" * 500), limit=limit)
    assert len(line) == limit and line.endswith("…") and line[:-1] == "x" * (limit - 1)

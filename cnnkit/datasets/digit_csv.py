"""Kaggle digit-recognizer CSVs: a `label` column and one column per pixel, read in chunks; messages
name the row and column, never a cell's text."""

import csv
import io
import math
import os
import re
from contextlib import contextmanager
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd

from cnnkit.datasets.registry import RawData, register_dataset
from cnnkit.datasets.uploads import MAX_UPLOAD_BYTES, shown_name
from cnnkit.errors import InputError
from cnnkit.datasets.safe_files import open_regular


# Kaggle CSVs are read in chunks of rows, so memory holds the uint8 images plus one chunk of cells.
CSV_CHUNK_ROWS = 2000
MAX_CSV_HEADER_BYTES = 2**20  # 100,000 column names or so: far more than any image row needs
MAX_CSV_LABEL = 999  # labels are class numbers 0..999
_CSV_EXPECTED = "a 'label' column and a square number of pixel columns such as 784 (28x28), separated by commas"
_SHOWN_COLUMN_NAME = re.compile(r"label|[A-Za-z]{0,8}\d{1,7}")  # label, pixel0, p12: names, not a file's text


def read_digit_csv(
    source: str | os.PathLike | bytes | BinaryIO, name: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images and labels from a Kaggle digit-recognizer CSV: a `label` column plus pixel columns.

    Pixel columns (every other column, in order) hold a square image row by row, values 0-255;
    labels are class numbers from 0 to MAX_CSV_LABEL. Returns x uint8 (N, S, S, 1) and y int64
    (N,), or y None when there is no `label` column (the unlabeled test file). `source` is a path
    (a regular file of at most MAX_UPLOAD_BYTES), the file's bytes or a binary file object;
    `name` is what error messages call it. Rows in messages count from 1 after the header,
    columns from 1; messages never quote the file's cells.
    """
    name = name or (str(source) if isinstance(source, (str, os.PathLike)) else "the CSV file")
    with _csv_stream(source, name) as stream:
        columns = _csv_header(stream, name)
        pixel_columns = [i for i, column in enumerate(columns) if column != "label"]
        labeled = len(pixel_columns) < len(columns)
        images, labels, row = [], [], 0
        try:
            chunks = pd.read_csv(stream, header=None, names=range(len(columns)), index_col=False,
                                 chunksize=CSV_CHUNK_ROWS)
            for chunk in chunks:
                if chunk.empty:  # a header without rows
                    continue
                values = _numbers(chunk, columns, row, name)
                images.append(_pixels(values[:, pixel_columns], pixel_columns, columns, row, name))
                if labeled:
                    labels.append(_labels(values[:, columns.index("label")], row, name))
                row += len(chunk)
        except pd.errors.ParserError as err:
            raise InputError(f"{name} is not a well-formed CSV file ({str(err).strip()}).") from err
        except UnicodeDecodeError as err:
            raise InputError(f"{name} is not a well-formed CSV file: it is not UTF-8 text.") from err
    if not row:
        raise InputError(f"{name} has a header but no rows.")
    side = math.isqrt(len(pixel_columns))
    x = np.concatenate(images).reshape(-1, side, side, 1)
    return x, np.concatenate(labels) if labeled else None


@contextmanager
def _csv_stream(source: str | os.PathLike | bytes | BinaryIO, name: str) -> Iterator[BinaryIO]:
    """A binary stream of the CSV; a path must be a regular file, and a path or bytes at most MAX_UPLOAD_BYTES."""
    if isinstance(source, (str, os.PathLike)):
        with open_regular(source, MAX_UPLOAD_BYTES, name) as file:
            yield file
    elif isinstance(source, bytes):
        if len(source) > MAX_UPLOAD_BYTES:
            raise InputError(f"{name} is {len(source) / 2**20:,.0f} MB; files are limited to "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB.")
        yield io.BytesIO(source)
    else:
        yield source


def _csv_header(stream: BinaryIO, name: str) -> list[str]:
    """The column names of the header line, read bounded, or InputError saying what was expected."""
    try:
        line = stream.readline(MAX_CSV_HEADER_BYTES + 1)
    except OSError as err:
        raise InputError(f"Cannot read {name} ({err.strerror or err}).") from err
    if not line.strip():
        raise InputError(f"{name} is empty.")
    if len(line) > MAX_CSV_HEADER_BYTES:
        raise InputError(f"{name} has no header line in its first {MAX_CSV_HEADER_BYTES // 2**20} MB; "
                         f"expected {_CSV_EXPECTED}.")
    try:
        text = line.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise InputError(f"{name} is not a CSV file: its first line is not UTF-8 text.") from err
    columns = [column.strip() for column in next(csv.reader([text]))]
    if len(columns) == 1:
        for delimiter, called in ((";", "';'"), ("\t", "tab")):
            if delimiter in text:
                raise InputError(f"{name} looks {called}-delimited: use commas.")
    pixels = len([column for column in columns if column != "label"])
    if pixels == 0:
        raise InputError(f"{name} has no pixel columns, only a 'label' column.")
    if "label" not in columns and pixels < 4:
        raise InputError(f"{name}'s first line is not a header of {_CSV_EXPECTED}; it has {pixels} column"
                         f"{'s' * (pixels != 1)} and no 'label'.")
    if math.isqrt(pixels) ** 2 != pixels:
        raise InputError(f"{name} has {pixels} pixel columns, which is not a square image; "
                         f"expected a square number such as 784 (28x28).")
    return columns


def _column(columns: list[str], index: int) -> str:
    """"column 3 (pixel1)": the position, and the header's name when it is a plain column name."""
    shown = columns[index] if _SHOWN_COLUMN_NAME.fullmatch(columns[index]) else None
    return f"column {index + 1}" + (f" ({shown})" if shown else "")


def _numbers(frame: pd.DataFrame, columns: list[str], first_row: int, name: str) -> np.ndarray:
    """The cells as one numeric array, or InputError naming a non-numeric or blank cell (not its text)."""
    for index in frame.columns:
        cells = frame[index]
        if not pd.api.types.is_numeric_dtype(cells):
            row = int(np.argmax(pd.to_numeric(cells, errors="coerce").isna() & cells.notna()))
            raise InputError(f"{name}: row {first_row + row + 1}, {_column(columns, index)} is not a number.")
    values = frame.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        row, index = _first(np.isnan(values))
        raise InputError(f"{name}: row {first_row + row + 1}, {_column(columns, index)} is blank.")
    return values


def _pixels(values: np.ndarray, positions: list[int], columns: list[str], first_row: int, name: str) -> np.ndarray:
    """The pixel cells (at `positions` among `columns`) as uint8, or InputError naming the first bad one."""
    bad = (values < 0) | (values > 255) | (values != np.round(values))
    if bad.any():
        row, index = _first(bad)
        raise InputError(f"{name}: row {first_row + row + 1}, {_column(columns, positions[index])} is not a "
                         "whole number from 0 to 255, as pixel values must be.")
    return values.astype(np.uint8)


def _labels(values: np.ndarray, first_row: int, name: str) -> np.ndarray:
    bad = (values < 0) | (values > MAX_CSV_LABEL) | (values != np.round(values))
    if bad.any():
        row = first_row + int(np.argmax(bad)) + 1
        raise InputError(f"{name}: row {row} has a label that is not a whole number from 0 to {MAX_CSV_LABEL}; "
                         "labels must be class numbers.")
    return values.astype(np.int64)


def _first(mask: np.ndarray) -> tuple[int, int]:
    """(row, column) of the first True cell in reading order."""
    return divmod(int(np.argmax(mask)), mask.shape[1])


@register_dataset(
    "csv",
    "Kaggle digit-recognizer CSV with a 'label' column and one column per pixel "
    "(path: the .csv file)",
    needs_path=True,
)
def load_csv(path: str | None, image_size: int | None) -> RawData:
    name = shown_name(path)
    x, labels = read_digit_csv(path, name)
    if labels is None:
        raise InputError(
            f"{name} has no 'label' column; training needs labeled data (this looks like an "
            f"unlabeled test file)."
        )
    values, y = np.unique(labels, return_inverse=True)
    return RawData(x, y.astype(np.int64), tuple(str(v) for v in values))

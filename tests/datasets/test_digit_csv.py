"""cnnkit.datasets.digit_csv: Kaggle digit-recognizer CSV files."""

import io
import re

import numpy as np
import pytest

from cnnkit.datasets import load_dataset, read_digit_csv
from cnnkit.errors import InputError
from dataset_files import RNG, csv_text

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


# --- Kaggle digit-recognizer CSV -----------------------------------------------------------


def test_a_labeled_kaggle_csv_gives_28x28_images_in_row_major_order(tmp_path):
    pixels = RNG.integers(0, 256, (5, 784))
    path = tmp_path / "train.csv"
    path.write_text(csv_text([3, 1, 4, 1, 5], pixels))
    x, y = read_digit_csv(path)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.uint8
    assert (x.reshape(5, 784) == pixels).all()
    assert y.tolist() == [3, 1, 4, 1, 5] and y.dtype == np.int64


def test_the_unlabeled_test_csv_gives_no_labels():
    x, y = read_digit_csv(csv_text(None, np.zeros((3, 784), dtype=int)).encode())
    assert x.shape == (3, 28, 28, 1) and y is None


def test_any_square_pixel_count_works_from_a_file_object():
    x, y = read_digit_csv(io.BytesIO(csv_text([0, 1], [[0] * 16, [255] * 16]).encode()))
    assert x.shape == (2, 4, 4, 1) and x[1].min() == 255


def test_the_csv_dataset_names_classes_by_their_sorted_labels(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(csv_text([7, 3, 5] * 10, np.zeros((30, 16), dtype=int)))
    data = load_dataset("csv", path=str(path), val_fraction=0)
    assert data.class_names == ("3", "5", "7")
    assert sorted(set(data.y_train.tolist())) == [0, 1, 2]


def test_the_csv_dataset_needs_labels(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text(csv_text(None, np.zeros((4, 16), dtype=int)))
    with pytest.raises(InputError, match="test.csv has no 'label' column"):
        load_dataset("csv", path=str(path))


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("label\n1\n2\n", "no pixel columns"),
        ("label,p0,p1,p2,p3,p4\n1,0,0,0,0,0\n", "has 5 pixel columns, which is not a square"),
        ("label,p0,p1,p2,p3\n", "a header but no rows"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n2,0,0,abc,0\n", "row 2, column 4 (p2) is not a number."),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n,0,0,0,0\n", "row 2, column 1 (label) is blank"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n2,0,0,0\n", "row 2, column 5 (p3) is blank"),
        ("label,p0,p1,p2,p3\n1,0,256,0,0\n", "row 1, column 3 (p1) is not a whole number from 0 to 255"),
        ("label,p0,p1,p2,p3\n1,0,0,-1,0\n", "row 1, column 4 (p2) is not a whole number from 0 to 255"),
        ("label,p0,p1,p2,p3\n1,0,0,0,2.5\n", "row 1, column 5 (p3) is not a whole number from 0 to 255"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n1.5,0,0,0,0\n", "row 2 has a label that is not a whole number from 0 to 999"),
        ("label,p0,p1,p2,p3\n1,0,0,0,0\n1,0,0,0,0,0,0\n", "not a well-formed CSV"),
    ],
)
def test_a_malformed_csv_is_explained(content, message):
    with pytest.raises(InputError, match="upload.csv.*" + re.escape(message)):
        read_digit_csv(content.encode(), name="upload.csv")


def test_a_kaggle_sized_csv_parses_into_42000_images_and_labels(tmp_path):
    """Its parsing speed is benchmarks/digit_csv.py's."""
    header = ",".join(["label"] + [f"pixel{i}" for i in range(784)])
    row = ",".join(["7"] + ["0"] * 700 + ["255"] * 84)  # mostly blank paper, like real digits
    path = tmp_path / "train.csv"
    path.write_text(header + "\n" + (row + "\n") * 42_000)
    x, y = read_digit_csv(path)
    assert x.shape == (42_000, 28, 28, 1) and x.dtype == np.uint8 and (y == 7).all()
    assert (x[:, -3:] == 255).all() and (x[:, :-3] == 0).all()  # the last 84 pixels are the bottom three rows

"""cnnkit.datasets as a whole: it imports no deep-learning library, and hostile files are refused by every loader.

Every file is written in its real format into tmp_path; nothing is downloaded.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnkit.datasets import digit_csv, uploads, load_dataset, read_digit_csv, read_image_folder
from cnnkit.errors import InputError
from dataset_files import csv_text, gray_images, write_files

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


def test_the_library_does_not_import_keras_or_tensorflow():
    code = (
        "import sys, cnnkit.datasets.images, cnnkit.datasets\n"
        "cnnkit.datasets.load_dataset('digits')\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded & {'keras', 'tensorflow', 'jax', 'torch'}, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])




# --- hostile and bad data files ---------------------------------------------------------------


def test_a_file_that_is_not_a_kaggle_csv_is_refused_without_quoting_it(tmp_path):
    """An /etc/shadow-like file named as the CSV: the message says what was expected, never what it holds."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    with pytest.raises(InputError) as raised:
        load_dataset("csv", path=str(secret))
    message = str(raised.value)
    assert message == (f"{secret}'s first line is not a header of a 'label' column and a square number of pixel "
                       "columns such as 784 (28x28), separated by commas; it has 1 column and no 'label'.")
    assert "daemon" not in message and "$6$" not in message and "19000" not in message


def test_cell_messages_name_the_row_and_column_not_the_cell_text():
    content = "label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n2,0,secret-token,0,0\n"
    with pytest.raises(InputError, match=r"^up.csv: row 2, column 3 \(pixel1\) is not a number.$"):
        read_digit_csv(content.encode(), name="up.csv")
    odd_header = "label,pixel0,pixel1,root:x:0:0,pixel3\n1,0,0,abc,0\n"
    with pytest.raises(InputError, match=r"^up.csv: row 1, column 4 is not a number.$"):  # a header name that is no column name is not shown
        read_digit_csv(odd_header.encode(), name="up.csv")


@pytest.mark.parametrize("label", ["-3", "1e300", "1000", "2.5"])
def test_labels_outside_the_class_numbers_are_refused_with_their_row(tmp_path, label):
    path = tmp_path / "train.csv"
    path.write_text(csv_text([1, 2, label, 1], np.zeros((4, 4), dtype=int)))
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: row 3 has a label that is not a whole number from "
                                         r"0 to 999; labels must be class numbers.$"):
        load_dataset("csv", path=str(path))


@pytest.mark.parametrize("delimiter, called", [(";", "';'"), ("\t", "tab")])
def test_a_csv_with_another_delimiter_gets_one_short_line(delimiter, called):
    header = delimiter.join(["label"] + [f"pixel{i}" for i in range(784)])
    rows = [delimiter.join(["3"] + ["0"] * 784)] * 20
    with pytest.raises(InputError) as raised:
        read_digit_csv("\n".join([header, *rows]).encode(), name="train.csv")
    assert str(raised.value) == f"train.csv looks {called}-delimited: use commas."


def test_a_csv_path_over_the_upload_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "train.csv"
    with open(path, "wb") as file:
        file.truncate(uploads.MAX_UPLOAD_BYTES + 1)  # sparse: no disk used
    with pytest.raises(InputError, match=r"train.csv is 200 MB; files are limited to 200 MB.$"):
        load_dataset("csv", path=str(path))


def test_a_csv_is_read_in_chunks_with_rows_counted_across_them(monkeypatch):
    monkeypatch.setattr(digit_csv, "CSV_CHUNK_ROWS", 3)
    content = csv_text(list(range(8)), np.arange(32).reshape(8, 4)).replace("\n7,28,", "\n7,-1,")
    with pytest.raises(InputError, match=r"row 8, column 2 \(pixel0\) is not a whole number from 0 to 255"):
        read_digit_csv(content.encode(), name="up.csv")
    x, y = read_digit_csv(csv_text(list(range(8)), np.arange(32).reshape(8, 4)).encode())
    assert x.reshape(8, 4).tolist() == np.arange(32).reshape(8, 4).tolist() and y.tolist() == list(range(8))


def test_a_header_line_longer_than_any_csv_needs_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(digit_csv, "MAX_CSV_HEADER_BYTES", 100)
    path = tmp_path / "zeros.csv"
    path.write_bytes(bytes(1000))
    with pytest.raises(InputError, match="zeros.csv has no header line in its first 0 MB; expected a 'label' column"):
        read_digit_csv(path)


def test_special_files_in_a_class_folder_are_refused_by_name(tmp_path):
    root = write_files(tmp_path / "faces", gray_images())
    (root / "cats" / "zero.png").symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"cats/zero.png in .*faces is a character device, not a regular file"):
        load_dataset("folder", path=str(root))
    (root / "cats" / "zero.png").unlink()
    os.mkfifo(root / "cats" / "pipe.png")
    with pytest.raises(InputError, match=r"cats/pipe.png in .*faces is a named pipe \(FIFO\)"):
        load_dataset("folder", path=str(root))


def test_a_huge_file_named_png_is_refused_before_it_is_read(tmp_path):
    root = write_files(tmp_path / "faces", gray_images())
    with open(root / "dogs" / "huge.png", "wb") as file:
        file.truncate(3 * 2**30)  # sparse
    with pytest.raises(InputError, match=r"dogs/huge.png in .*faces is 3.0 GiB; files are limited to 64 MB."):
        load_dataset("folder", path=str(root))


def test_a_fifo_or_device_as_the_dataset_path_is_refused_promptly(tmp_path):
    os.mkfifo(tmp_path / "train.csv")
    with pytest.raises(InputError, match=r"train.csv is a named pipe \(FIFO\), not a regular file"):
        load_dataset("csv", path=str(tmp_path / "train.csv"))
    with pytest.raises(InputError, match=r"^/dev/zero is a character device, not a regular file"):
        load_dataset("csv", path="/dev/zero")
    (tmp_path / "faces.zip").symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"faces.zip is a character device"):
        load_dataset("folder", path=str(tmp_path / "faces.zip"))


def test_a_dataset_zip_with_a_symlink_or_a_duplicate_entry_is_refused(tmp_path):
    from test_safe_files import zip_with_duplicates, zip_with_symlink

    with pytest.raises(InputError, match="the uploaded zip contains the entry 'cats/shadow.png', a symbolic link"):
        read_image_folder(zip_with_symlink())
    with pytest.raises(InputError, match="the uploaded zip holds the entry 'cats/a.png' more than once"):
        read_image_folder(zip_with_duplicates())

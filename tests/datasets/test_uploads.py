"""cnnkit.datasets.uploads: uploaded files stored by content, named as uploaded."""

import io
import zipfile

import pytest
from PIL import Image

from cnnkit.errors import InputError
from files import encode, zip_of

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


def test_uploads_are_stored_by_content_and_typed_by_extension(tmp_path):
    from cnnkit.datasets import save_upload

    kind, path = save_upload(b"label,pixel0\n1,0\n", "train.CSV", tmp_path / "uploads")
    again = save_upload(b"label,pixel0\n1,0\n", "other-name.csv", tmp_path / "uploads")
    assert kind == "csv" and again == (kind, path) and path.read_bytes() == b"label,pixel0\n1,0\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/x.png", b"")
    assert save_upload(buffer.getvalue(), "faces.zip", tmp_path)[0] == "folder"


@pytest.mark.parametrize(
    "data, filename, message",
    [(b"label,pixel0,pixel1,pixel2,pixel3\n1,0,0,x,0\n", "train.csv", "train.csv: row 1, column 4 (pixel2) is not a number."),
     (b"pixel0,pixel1,pixel2,pixel3\n0,0,0,0\n", "train.csv", "train.csv has no 'label' column"),
     (zip_of({"faces/cats/a.png": b"not a png", "faces/dogs/b.png": encode(Image.new("L", (4, 4)), "PNG")}),
      "my faces.zip", "faces/cats/a.png in my faces.zip is not an image"),
     (zip_of({"faces/cats/a.txt": b""}), "my faces.zip", "my faces.zip needs at least 2 class folders")],
)
def test_messages_about_an_upload_name_the_uploaded_file_not_where_the_server_keeps_it(tmp_path, data, filename,
                                                                                        message):
    from cnnkit.datasets import load_dataset, save_upload

    dataset, stored = save_upload(data, filename, tmp_path / "uploads")
    with pytest.raises(InputError) as refused:
        load_dataset(dataset, path=str(stored))
    assert message in str(refused.value)
    assert "uploads" not in str(refused.value) and stored.stem not in str(refused.value)


def test_an_upload_keeps_the_name_it_was_last_uploaded_under_and_other_paths_are_named_as_given(tmp_path):
    from cnnkit.datasets import save_upload
    from cnnkit.datasets.uploads import shown_name

    _, stored = save_upload(b"label,pixel0\n1,0\n", "C:\\Users\\me\\train\x07.csv", tmp_path / "uploads")
    assert shown_name(stored) == "train.csv"
    save_upload(b"label,pixel0\n1,0\n", "again.csv", tmp_path / "uploads")
    assert shown_name(stored) == "again.csv"
    local = tmp_path / "mine.csv"
    assert shown_name(local) == str(local)


@pytest.mark.parametrize(
    "data, name, message",
    [(b"x", "notes.txt", "not a .csv or .zip"), (b"", "empty.csv", "empty"), (b"not a zip", "fake.zip", "not a valid zip")],
)
def test_bad_uploads_are_refused_with_a_reason(tmp_path, data, name, message):
    from cnnkit.datasets import save_upload

    with pytest.raises(InputError, match=message):
        save_upload(data, name, tmp_path)

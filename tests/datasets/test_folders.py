"""cnnkit.datasets.folders: class folders and zips of images."""

import re

import numpy as np
import pytest
from PIL import Image

from cnnkit.datasets import safe_files, load_dataset, read_image_folder
from cnnkit.errors import InputError
from files import encode, zip_of
from dataset_files import gray_images, mixed_images, write_files

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


# --- image folders and zips ----------------------------------------------------------------


def test_a_folder_of_mixed_images_becomes_padded_color_images(tmp_path):
    raw = read_image_folder(write_files(tmp_path / "faces", mixed_images()), 16)
    assert raw.x.shape == (6, 16, 16, 3) and raw.x.dtype == np.uint8
    assert raw.class_names == ("female", "male") and raw.y.tolist() == [0, 0, 0, 1, 1, 1]
    red_wide = raw.x[0]  # female/a.png: 30x20 red, so padded above and below
    assert red_wide[8, 8].tolist() == [255, 0, 0] and red_wide[0, 8].tolist() == [0, 0, 0]


def test_a_folder_of_grayscale_images_keeps_one_channel_and_defaults_to_64_pixels(tmp_path):
    raw = read_image_folder(write_files(tmp_path / "pets", gray_images()))
    assert raw.x.shape == (4, 64, 64, 1)
    assert raw.class_names == ("cats", "dogs")


def test_hidden_files_macos_junk_and_non_images_are_ignored(tmp_path):
    junk = {".DS_Store": b"junk", "cats/.hidden.png": b"junk", "cats/notes.txt": b"hi", "__MACOSX/cats/._a.png": b"junk"}
    raw = read_image_folder(write_files(tmp_path / "pets", {**gray_images(), **junk}), 8)
    assert len(raw.y) == 4 and raw.class_names == ("cats", "dogs")


def test_the_folder_dataset_loads_a_folder_through_the_registry(tmp_path):
    files = {f"{cls}/{i}.png": encode(Image.new("L", (5, 5), i * 10), "PNG") for cls in "ab" for i in range(10)}
    data = load_dataset("folder", path=str(write_files(tmp_path / "ab", files)), image_size=8, val_fraction=0.25)
    assert data.split_counts() == {"train": 12, "validation": 4, "test": 4}
    assert data.input_shape == (8, 8, 1)


@pytest.mark.parametrize("wrapper", ["", "faces/", "outer/faces/"])
def test_a_zip_file_works_with_or_without_top_level_folders(tmp_path, wrapper):
    path = tmp_path / "faces.zip"
    path.write_bytes(zip_of({f"{wrapper}{name}": data for name, data in mixed_images().items()}))
    data = load_dataset("folder", path=str(path), image_size=12, val_fraction=0, test_fraction=0.5)
    assert data.class_names == ("female", "male") and data.input_shape == (12, 12, 3)


def test_uploaded_zip_bytes_are_read_like_a_zip_file():
    raw = read_image_folder(zip_of({f"pets/{n}": d for n, d in gray_images().items()}), 10)
    assert raw.x.shape == (4, 10, 10, 1)


def test_a_folder_around_the_class_folders_is_looked_through(tmp_path):
    raw = read_image_folder(write_files(tmp_path / "download", {f"pets/{n}": d for n, d in gray_images().items()}), 8)
    assert raw.class_names == ("cats", "dogs")


@pytest.mark.parametrize("entry", ["../evil.png", "cats/../../evil.png", "/etc/evil.png", "..\\evil.png", "C:/evil.png"])
def test_a_zip_entry_pointing_outside_the_archive_refuses_the_whole_zip(entry):
    data = zip_of({**gray_images(), entry: gray_images()["cats/a.png"]})
    with pytest.raises(InputError, match=re.escape(f"contains the entry '{entry}'")):
        read_image_folder(data)


def test_a_zip_with_too_many_entries_is_refused(monkeypatch):
    monkeypatch.setattr(safe_files, "MAX_ZIP_ENTRIES", 3)
    with pytest.raises(InputError, match="holds 4 entries; at most 3"):
        read_image_folder(zip_of(gray_images()))


def test_a_zip_that_unpacks_too_large_is_refused(monkeypatch):
    monkeypatch.setattr(safe_files, "MAX_ZIP_BYTES", 100)
    with pytest.raises(InputError, match=r"unpacks to [\d,]+ bytes; at most 100 bytes are allowed"):
        read_image_folder(zip_of(gray_images()))


def test_bytes_that_are_not_a_zip_are_refused():
    with pytest.raises(InputError, match="the uploaded zip is not a valid zip file"):
        read_image_folder(b"PK but not really a zip")


def test_a_file_with_an_image_extension_that_does_not_decode_is_named(tmp_path):
    files = {**gray_images(), "dogs/broken.png": b"this is text"}
    with pytest.raises(InputError, match="dogs/broken.png in .* is not an image"):
        read_image_folder(write_files(tmp_path / "pets", files))


def test_a_decompression_bomb_in_a_zip_is_refused_by_name():
    bomb = encode(Image.new("1", (8_000, 8_000)), "PNG")  # compresses to a few kB
    with pytest.raises(InputError, match="cats/bomb.png in the uploaded zip is 8000x8000"):
        read_image_folder(zip_of({**gray_images(), "cats/bomb.png": bomb}))


def test_an_empty_class_folder_is_named(tmp_path):
    root = write_files(tmp_path / "pets", gray_images())
    (root / "birds").mkdir()
    with pytest.raises(InputError, match="Class folder 'birds' .* has no images"):
        read_image_folder(root)


def test_an_empty_class_folder_inside_a_zip_is_named():
    with pytest.raises(InputError, match="Class folder 'birds'"):
        read_image_folder(zip_of({**gray_images(), "birds/": b""}))


def test_a_single_class_is_not_enough():
    with pytest.raises(InputError, match="needs at least 2 class folders .* found 1: cats"):
        read_image_folder(zip_of({"cats/a.png": gray_images()["cats/a.png"]}))


def test_images_outside_class_folders_are_refused(tmp_path):
    files = {**gray_images(), "stray.png": gray_images()["cats/a.png"]}
    with pytest.raises(InputError, match="stray.png in .* is not inside a class folder"):
        read_image_folder(write_files(tmp_path / "pets", files))


def test_a_missing_path_is_neither_a_folder_nor_a_zip(tmp_path):
    with pytest.raises(InputError, match="is neither a folder nor a zip file"):
        read_image_folder(tmp_path / "nowhere")


@pytest.mark.parametrize("size", [0, 5000])
def test_the_image_size_must_be_reasonable(tmp_path, size):
    with pytest.raises(InputError, match="image_size must be a whole number from 1 to 1024"):
        read_image_folder(write_files(tmp_path / "pets", gray_images()), size)

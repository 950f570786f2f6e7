"""cnnkit.datasets.safe_files: regular files only, bounded reads, safe zips (where visitors may point: tests/config/test_server_paths.py)."""

import io
import os
import stat
import warnings
import zipfile

import pytest

from cnnkit.datasets import safe_files
from cnnkit.errors import InputError
from cnnkit.datasets.safe_files import open_regular, open_zip, read_entry, read_regular, zip_entries

from files import zip_of


# --- Regular files only, size checked before reading -----------------------------------------------


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "train.csv"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading the usual way would block for good
    with pytest.raises(InputError, match=r"train.csv is a named pipe \(FIFO\), not a regular file"):
        open_regular(fifo, 100)


@pytest.mark.parametrize("target, kind", [("/dev/zero", "a character device"), (".", "a folder")])
def test_devices_folders_and_symlinks_to_them_are_refused(tmp_path, target, kind):
    link = tmp_path / "digit.png"
    link.symlink_to(target if target.startswith("/") else tmp_path)
    with pytest.raises(InputError, match=f"digit.png is {kind}, not a regular file; only regular files are read."):
        read_regular(link, 100)


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "huge.png"
    with open(big, "wb") as file:
        file.truncate(3 * 2**30)  # a sparse 3 GB file: no disk used, and nothing of it may be read
    with pytest.raises(InputError, match=r"^huge.png is 3.0 GiB; files are limited to 64 MB.$"):
        read_regular(big, 64 * 2**20, "huge.png")


def test_a_regular_file_within_the_limit_is_read_whole(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"label\n")
    assert read_regular(tmp_path / "a.csv", 6) == b"label\n"
    with pytest.raises(InputError, match="does not exist"):
        read_regular(tmp_path / "missing.csv", 6)


# --- Zips ----------------------------------------------------------------------------------------


def zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cats/a.png", b"png")
        link = zipfile.ZipInfo("cats/shadow.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/shadow")
    return buffer.getvalue()


def zip_with_duplicates() -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it writes
        archive.writestr("cats/a.png", b"first")
        archive.writestr("cats/a.png", b"second")
    return buffer.getvalue()


def entries_of(data: bytes, max_total: int | None = None) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [entry.filename for entry in zip_entries(archive, "upload.zip", max_total)]


def test_a_symlink_entry_refuses_the_whole_zip():
    with pytest.raises(InputError, match=r"^upload.zip contains the entry 'cats/shadow.png', a symbolic link; "
                                         r"the zip is refused.$"):
        entries_of(zip_with_symlink())


def test_duplicate_entries_are_reported_not_silently_overwritten():
    with pytest.raises(InputError, match=r"^upload.zip holds the entry 'cats/a.png' more than once; the zip is "
                                         r"refused: keep one of each.$"):
        entries_of(zip_with_duplicates())


def test_an_entry_over_the_entry_limit_is_refused_before_it_is_unpacked(monkeypatch):
    monkeypatch.setattr(safe_files, "MAX_ENTRY_BYTES", 1000)
    with pytest.raises(InputError, match=r"^upload.zip: 'a.png' unpacks to 1,001 bytes; an entry may hold at most "
                                         r"1,000 bytes.$"):
        entries_of(zip_of({"a.png": bytes(1001)}))


def test_a_highly_compressed_entry_is_refused_as_a_zip_bomb():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.png", bytes(4 * 2**20))  # 4 MB of zeros packs into a few KB
    with pytest.raises(InputError, match=r"upload.zip: 'bomb.png' is compressed [\d,]+ times, more than the 100 "
                                         r"allowed \(a zip bomb\?\)"):
        entries_of(buffer.getvalue())


def test_a_zip_over_the_total_limit_is_refused():
    with pytest.raises(InputError, match=r"^upload.zip unpacks to 11 bytes; at most 10 bytes are allowed.$"):
        entries_of(zip_of({"a.png": bytes(11)}), max_total=10)


def test_an_entry_is_never_unpacked_past_its_declared_size():
    data = zip_of({"a.png": b"x" * 50})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entry = archive.getinfo("a.png")
        assert read_entry(archive, entry, "upload.zip") == b"x" * 50
        entry.file_size = 20  # a header that understates what the entry unpacks to
        with pytest.raises(InputError, match=r"^Cannot read 'a.png' in upload.zip \(Bad CRC-32"):
            read_entry(archive, entry, "upload.zip")


def test_a_safe_zip_lists_all_its_entries():
    assert entries_of(zip_of({"cats/a.png": b"a", "dogs/b.png": b"b"})) == ["cats/a.png", "dogs/b.png"]



def test_open_zip_gives_the_checked_entries_and_names_a_file_that_is_no_zip():
    with open_zip(io.BytesIO(zip_of({"cats/a.png": b"a"})), "upload.zip") as (archive, entries):
        assert [entry.filename for entry in entries] == ["cats/a.png"]
        assert read_entry(archive, entries[0], "upload.zip") == b"a"
    with pytest.raises(InputError, match=r"^upload.zip is not a valid zip file \(File is not a zip file\).$"):
        with open_zip(io.BytesIO(b"not a zip"), "upload.zip"):
            pass
    with pytest.raises(InputError, match=r"^upload.zip unpacks to 11 bytes; at most 10 bytes are allowed.$"):
        with open_zip(io.BytesIO(zip_of({"a.png": bytes(11)})), "upload.zip", max_total=10):
            pass

"""cnnkit.datasets.safe_files: where visitors may point, regular files only, bounded reads, safe zips."""

import io
import os
import stat
import warnings
import zipfile

import pytest

from cnnkit.datasets import safe_files
from cnnkit.errors import InputError
from cnnkit.config.server_paths import ServerPaths
from cnnkit.datasets.safe_files import open_regular, open_zip, read_entry, read_regular, zip_entries

from files import zip_of


@pytest.fixture()
def no_path_settings(monkeypatch):
    for variable in ("CNNKIT_ALLOW_SERVER_PATHS", "CNNKIT_DATA_ROOTS", "CNNKIT_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)


# --- Server paths a visitor may name -------------------------------------------------------------


def test_off_the_localhost_only_uploads_are_allowed(tmp_path, no_path_settings):
    uploads = tmp_path / "uploads"
    paths = ServerPaths.for_app(None, uploads)  # Streamlit's default: every address
    assert not paths.open_to_visitors
    assert paths.check(str(uploads / "abc.csv")) == (uploads / "abc.csv").resolve()
    with pytest.raises(InputError, match=r"^Path on this machine: /etc/shadow is not an upload, and paths on this "
                                         r"machine are off .*CNNKIT_ALLOW_SERVER_PATHS=1") as raised:
        paths.check("/etc/shadow")
    assert raised.value.field == "dataset_path"


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1", "::1"])
def test_on_localhost_paths_under_the_data_folders_are_allowed_and_others_refused(tmp_path, monkeypatch,
                                                                                  no_path_settings, address):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    paths = ServerPaths.for_app(address, tmp_path / "uploads")
    assert paths.open_to_visitors
    assert paths.check(str(tmp_path / "data" / "mnist" / "train.csv")).name == "train.csv"
    for outside in ("/etc", "/root", "/etc/shadow", str(tmp_path / "data" / ".." / "elsewhere.csv")):
        with pytest.raises(InputError, match=r"^Path on this machine: .* is outside the folders this app reads from: "
                                             r".*CNNKIT_DATA_ROOTS"):
            paths.check(outside)


def test_the_operator_can_open_paths_on_any_address_and_widen_the_folders(tmp_path, monkeypatch, no_path_settings):
    monkeypatch.setenv("CNNKIT_ALLOW_SERVER_PATHS", "1")
    monkeypatch.setenv("CNNKIT_DATA_ROOTS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    paths = ServerPaths.for_app("0.0.0.0", tmp_path / "uploads")
    assert paths.open_to_visitors
    assert paths.check(str(tmp_path / "b" / "faces.zip")).name == "faces.zip"
    with pytest.raises(InputError, match="is outside the folders"):
        paths.check(str(tmp_path / "c.csv"))


def test_a_symlink_inside_a_data_folder_that_points_outside_is_refused(tmp_path, monkeypatch, no_path_settings):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shadow.csv").symlink_to("/etc/shadow")
    with pytest.raises(InputError, match="is outside the folders"):
        ServerPaths.for_app("localhost", tmp_path / "uploads").check(str(tmp_path / "data" / "shadow.csv"))


def test_a_symlink_loop_or_a_nul_byte_is_an_input_error_under_every_policy(tmp_path, monkeypatch, no_path_settings):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a").symlink_to(tmp_path / "data" / "b")
    (tmp_path / "data" / "b").symlink_to(tmp_path / "data" / "a")
    for paths in (ServerPaths.for_app("localhost", tmp_path / "uploads"), ServerPaths.anywhere()):
        for name in ("a", "b", "a/inside.csv"):
            with pytest.raises(InputError, match=r"^Path on this machine: .* is a loop of symbolic links"):
                paths.check(str(tmp_path / "data" / name))
        with pytest.raises(InputError, match=r"^Path on this machine: .* is not a path this machine can read"):
            paths.check("data\x00.csv")
    with pytest.raises(InputError, match="is not an upload"):  # outside: refused as such, the loop not told
        ServerPaths.for_app(None, tmp_path / "uploads").check(str(tmp_path / "data" / "a"))


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

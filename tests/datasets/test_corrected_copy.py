import io
import zipfile

import numpy as np
from PIL import Image

from cnnkit.datasets import corrected_copy, load_dataset, read_digit_csv, read_image_folder, write_corrected_copy
from dataset_files import csv_text, write_files
from files import encode


def png(shade: int) -> bytes:
    return encode(Image.new("L", (8, 8), shade), "PNG")


def unchanged(path):
    """A file's bytes and modification time, to check it was only read."""
    return path.read_bytes(), path.stat().st_mtime_ns


def test_a_csv_copy_changes_the_label_cells_of_the_relabelled_rows_only(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    original = tmp_path / "train.csv"
    original.write_text(csv_text(labels, rng.integers(0, 256, (60, 16))).replace("\n", "\r\n", 5) + "\n")  # a blank line
    before = unchanged(original)
    data = load_dataset("csv", path=str(original), val_fraction=0.2, test_fraction=0.2, relabel={})
    first, second = sorted(data.ids_train.tolist(), key=int)[:2]
    new = {first: "2" if labels[int(first)] != 2 else "0", second: "1" if labels[int(second)] != 1 else "0"}
    data = load_dataset("csv", path=str(original), val_fraction=0.2, test_fraction=0.2, relabel=new)
    assert data.relabelled == tuple((i, str(labels[int(i)]), new[i]) for i in sorted(new))
    copy = write_corrected_copy("csv", original, data.relabelled, data.ids_train)
    x, y = read_digit_csv(str(copy))
    x0, y0 = read_digit_csv(str(original))
    expected = y0.copy()
    expected[[int(i) for i in new]] = [int(label) for label in new.values()]
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(x, x0)
    kept = [line for n, line in enumerate(original.read_bytes().splitlines(keepends=True)) if n - 1 not in map(int, new)]
    assert [line for n, line in enumerate(copy.read_bytes().splitlines(keepends=True)) if n - 1 not in map(int, new)] == kept
    assert unchanged(original) == before
    record = (copy.parent / corrected_copy.RECORD).read_text().splitlines()
    assert record[0] == "id,old_label,new_label,path_in_copy" and len(record) == 3
    assert copy.is_relative_to(corrected_copy.copies_dir())


def test_the_same_relabelling_of_the_same_file_is_written_once(tmp_path):
    original = tmp_path / "train.csv"
    original.write_text(csv_text([0, 1, 0, 1], [[1, 2, 3, 4]] * 4))
    copy = write_corrected_copy("csv", original, (("1", "1", "0"),), ["0", "1", "2", "3"])
    written = copy.stat().st_mtime_ns
    assert write_corrected_copy("csv", original, (("1", "1", "0"),), ["0", "1", "2", "3"]) == copy
    assert copy.stat().st_mtime_ns == written
    other = write_corrected_copy("csv", original, (("2", "0", "1"),), ["0", "1", "2", "3"])
    assert other != copy
    original.write_text(csv_text([0, 1, 0, 1], [[1, 2, 3, 5]] * 4))  # new contents: a new copy
    assert write_corrected_copy("csv", original, (("1", "1", "0"),), ["0", "1", "2", "3"]) != copy


FILES = {"cats/a.png": png(10), "cats/b.png": png(20), "dogs/a.png": png(30), "dogs/c.png": png(40)}


def test_a_folder_copy_puts_the_relabelled_images_under_their_new_class(tmp_path):
    original = write_files(tmp_path / "pets", FILES)
    before = {name: unchanged(original / name) for name in FILES}
    copy = write_corrected_copy("folder", original, (("cats/b.png", "cats", "dogs"),), list(FILES))
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*.png")) == [
        "cats/a.png", "dogs/a.png", "dogs/b.png", "dogs/c.png"]
    raw = read_image_folder(copy, 8)
    assert raw.class_names == ("cats", "dogs")
    assert dict(zip(raw.ids.tolist(), raw.y.tolist()))["dogs/b.png"] == 1
    assert {name: unchanged(original / name) for name in FILES} == before
    assert (copy / "dogs/b.png").read_bytes() == FILES["cats/b.png"]


def test_a_symlinked_image_is_copied_for_its_contents_and_its_target_keys_the_copy(tmp_path):
    # the folder loader reads a symlinked image file (its target's bytes): the copy must hold it too
    outside = write_files(tmp_path / "elsewhere", {"b.png": FILES["cats/b.png"]})
    original = write_files(tmp_path / "pets", {name: data for name, data in FILES.items() if name != "cats/b.png"})
    (original / "cats/b.png").symlink_to(outside / "b.png")
    assert "cats/b.png" in read_image_folder(original, 8).ids.tolist()
    copy = write_corrected_copy("folder", original, (("cats/b.png", "cats", "dogs"),), list(FILES))
    assert (copy / "dogs/b.png").read_bytes() == FILES["cats/b.png"] and not (copy / "dogs/b.png").is_symlink()
    kept = write_corrected_copy("folder", original, (("cats/a.png", "cats", "dogs"),), list(FILES))
    assert (kept / "cats/b.png").read_bytes() == FILES["cats/b.png"]  # not relabelled, still in the copy
    (outside / "b.png").write_bytes(png(99))  # the link's target changed: a new copy, not the stale one
    assert write_corrected_copy("folder", original, (("cats/b.png", "cats", "dogs"),), list(FILES)) != copy


def test_without_a_cache_folder_copies_go_to_a_folder_of_this_users_own(tmp_path, monkeypatch):
    import os
    import stat

    monkeypatch.setenv("CNNKIT_CACHE_DIR", "off")
    monkeypatch.setattr(corrected_copy.tempfile, "gettempdir", lambda: str(tmp_path))
    home = corrected_copy.copies_dir()
    assert home == tmp_path / f"cnnkit-relabelled-{os.getuid()}"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and home.stat().st_uid == os.getuid()


def test_an_image_whose_name_is_taken_in_its_new_class_gets_another_and_the_record_says_which(tmp_path):
    original = write_files(tmp_path / "pets", FILES)
    copy = write_corrected_copy("folder", original, (("cats/a.png", "cats", "dogs"),), list(FILES))
    assert (copy / "dogs/a.png").read_bytes() == FILES["dogs/a.png"]
    assert (copy / "dogs/a-relabelled-2.png").read_bytes() == FILES["cats/a.png"]
    assert "cats/a.png,cats,dogs,dogs/a-relabelled-2.png" in (copy.parent / corrected_copy.RECORD).read_text()


def test_a_zip_with_a_wrapper_folder_is_copied_as_a_zip_so_rearranged(tmp_path):
    original = tmp_path / "pets.zip"
    with zipfile.ZipFile(original, "w") as archive:
        for name, data in FILES.items():
            archive.writestr(f"pets/{name}", data)
    before = unchanged(original)
    ids = [f"pets/{name}" for name in FILES]
    copy = write_corrected_copy("folder", original, (("pets/dogs/c.png", "dogs", "cats"),), ids)
    with zipfile.ZipFile(copy) as archive:
        assert sorted(archive.namelist()) == ["pets/cats/a.png", "pets/cats/b.png", "pets/cats/c.png", "pets/dogs/a.png"]
        assert archive.read("pets/cats/c.png") == FILES["dogs/c.png"]
    raw = read_image_folder(io.BytesIO(copy.read_bytes()).getvalue(), 8)
    assert sorted(raw.ids[raw.y == 0].tolist()) == ["pets/cats/a.png", "pets/cats/b.png", "pets/cats/c.png"]
    assert unchanged(original) == before

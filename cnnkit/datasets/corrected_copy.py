"""The corrected copy a relabelling run writes of its csv or folder dataset; the original is only read.

A CSV's copy has the label column of the relabelled rows changed (every other line copied byte for byte); a
folder's copy is the same tree with the relabelled images under their new class folder (hard links where the
disk allows, copies otherwise), a zip's a zip so rearranged. Beside it, `relabelled_examples.csv` lists id,
old_label, new_label and the image's path in the copy (`path_in_copy`: a folder's relabelled image moves, its
id stays the original's). Copies live under `relabelled/` in CNNKIT_CACHE_DIR (`decoded_cache.cache_dir`;
the system's temporary folder when that is `off`), named after the original's contents and the relabelling:
the same relabelling of the same data is written once and found again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import cnnkit.datasets.decoded_cache as decoded_cache
import cnnkit.datasets.safe_files as safe_files
from cnnkit.errors import InputError

RECORD = "relabelled_examples.csv"  # id, old_label, new_label, path_in_copy
RECORD_COLUMNS = ("id", "old_label", "new_label", "path_in_copy")
FORMAT = "1"  # bump when a copy's layout changes


def copies_dir() -> Path:
    """Under the cache folder, or without one a folder of this user's own in the temporary folder (mode 0700:
    another user can neither plant a copy there nor block ours)."""
    folder = decoded_cache.cache_dir()
    if folder is not None:
        return folder / "relabelled"
    own = Path(tempfile.gettempdir()) / f"cnnkit-relabelled-{os.getuid()}"
    own.mkdir(mode=0o700, exist_ok=True)
    if own.is_symlink() or own.stat().st_uid != os.getuid():
        raise InputError(f"{own} belongs to another user: set CNNKIT_CACHE_DIR to a folder of your own.")
    return own


def write_corrected_copy(dataset: str, path: str | os.PathLike, relabelled, all_ids) -> Path:
    """The corrected copy of the `dataset` ("csv" or "folder") at `path` with `relabelled`'s (id, old, new)
    changes (`Dataset.relabelled`), written now or found from before; `all_ids`: every id of the dataset (a
    folder's class folder is the first part in which they differ). Returns the copy's file or folder."""
    source = Path(path)
    record = "".join(f"{example_id}\t{old}\t{new}\n" for example_id, old, new in sorted(relabelled))
    key = hashlib.sha256("\0".join([FORMAT, dataset, _content_digest(source), record]).encode()).hexdigest()[:24]
    home = copies_dir() / key
    copy = home / source.name
    if (home / RECORD).is_file():
        return copy
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=home.parent, prefix=f".{key}-"))
    try:
        if dataset == "csv":
            moved = _copy_csv(source, work / source.name, relabelled)
        else:
            depth = _class_depth(all_ids)
            moves = {example_id: _moved(PurePosixPath(example_id), depth, new) for example_id, _, new in relabelled}
            writer = _copy_tree if source.is_dir() else _copy_zip
            moved = writer(source, work / source.name, moves)
        (work / RECORD).write_text(_record_csv(relabelled, moved), encoding="utf-8")
        try:
            work.rename(home)
        except OSError:  # another run wrote the same copy meanwhile
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return copy


def corrected_copy_record(copy: Path) -> str:
    """The record written beside a corrected copy (`write_corrected_copy`'s answer): id, old_label, new_label,
    path_in_copy."""
    return (copy.parent / RECORD).read_text(encoding="utf-8")


def _content_digest(source: Path) -> str:
    """SHA-256 of a file, or of a folder's relative paths and their files' contents."""
    if source.is_file():
        with source.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    digest = hashlib.sha256()
    for relative in _folder_files(source):
        digest.update(relative.as_posix().encode() + b"\0")
        with (source / relative).open("rb") as opened:
            digest.update(hashlib.file_digest(opened, "sha256").digest())
    return digest.hexdigest()


def _folder_files(source: Path) -> list[PurePosixPath]:
    """The folder's files as the folder loader finds them (`folders._walk`): symlinked folders not followed,
    a symlinked file taken for its target's contents; sorted relative paths."""
    return sorted(PurePosixPath(Path(dirpath).relative_to(source).as_posix()) / name
                  for dirpath, _, filenames in os.walk(source) for name in filenames
                  if (Path(dirpath) / name).is_file())


def _copy_csv(source: Path, target: Path, relabelled) -> dict[str, str]:
    """Copy the CSV line by line, the label cell of each relabelled data row (numbered from 0 after the header,
    blank lines not counted, as pandas reads them) set to its new label."""
    new_labels = {int(example_id): new for example_id, _, new in relabelled}
    with source.open("rb") as original, target.open("wb") as copy:
        header = original.readline()
        label_column = [cell.strip() for cell in next(csv.reader([header.decode("utf-8-sig")]))].index("label")
        copy.write(header)
        row = 0
        for line in original:
            if line.strip() and row in new_labels:
                ending = line[len(line.rstrip(b"\r\n")):]
                cells = next(csv.reader([line.decode("utf-8")]))
                cells[label_column] = new_labels[row]
                out = io.StringIO()
                csv.writer(out, lineterminator="").writerow(cells)
                line = out.getvalue().encode("utf-8") + ending
            copy.write(line)
            row += bool(line.strip())
    return {example_id: example_id for example_id, _, _ in relabelled}


def _class_depth(all_ids) -> int:
    """How many wrapper folders stand above the class folders: the parts every id shares."""
    parts = [PurePosixPath(example_id).parts for example_id in all_ids]
    depth = 0
    while all(len(p) > depth + 1 and p[depth] == parts[0][depth] for p in parts):
        depth += 1
    return depth


def _moved(path: PurePosixPath, depth: int, new_class: str) -> PurePosixPath:
    return PurePosixPath(*path.parts[:depth], new_class, *path.parts[depth + 1:])


def _free(target: PurePosixPath, taken) -> PurePosixPath:
    """`target`, or "name-relabelled-2.png" and so on when an image of that name is already there."""
    number = 1
    while target in taken:
        number += 1
        target = target.with_name(f"{target.stem.rsplit('-relabelled-', 1)[0]}-relabelled-{number}{target.suffix}")
    return target


def _copy_tree(source: Path, target: Path, moves: dict[str, PurePosixPath]) -> dict[str, str]:
    placed = _placements(_folder_files(source), moves)
    for relative, destination in placed.items():
        where = target / destination
        where.parent.mkdir(parents=True, exist_ok=True)
        try:  # a symlink's target is linked or copied, never the link itself
            os.link(source / relative, where, follow_symlinks=True)
        except OSError:
            shutil.copy2(source / relative, where)
    return {example_id: str(placed[PurePosixPath(example_id)]) for example_id in moves}


def _copy_zip(source: Path, target: Path, moves: dict[str, PurePosixPath]) -> dict[str, str]:
    name = source.name
    with safe_files.open_regular(source, safe_files.MAX_ZIP_BYTES, name) as file, safe_files.open_zip(file, name) as (
            archive, entries), zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        files = [entry for entry in entries if not entry.is_dir()]
        placed = _placements([safe_files.zip_path(entry.filename) for entry in files], moves)
        for entry in files:
            copy.writestr(str(placed[safe_files.zip_path(entry.filename)]), safe_files.read_entry(archive, entry, name))
    return {example_id: str(placed[PurePosixPath(example_id)]) for example_id in moves}


def _placements(files, moves: dict[str, PurePosixPath]) -> dict[PurePosixPath, PurePosixPath]:
    """Each file's path in the copy: its own, or its new class's for a relabelled image (renamed when taken)."""
    missing = sorted(set(moves) - {str(file) for file in files})
    if missing:
        raise InputError(f"{missing[0]!r} is not a file of the dataset, so it can't be relabelled in a copy.")
    staying = {file: file for file in files if str(file) not in moves}
    taken = set(staying.values())
    for example_id, wanted in sorted(moves.items()):
        staying[PurePosixPath(example_id)] = spot = _free(wanted, taken)
        taken.add(spot)
    return staying


def _record_csv(relabelled, moved: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_COLUMNS)
    writer.writerows((example_id, old, new, moved[example_id]) for example_id, old, new in sorted(relabelled))
    return out.getvalue()

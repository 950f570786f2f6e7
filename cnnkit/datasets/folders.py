"""Image folders: one sub-folder per class, as a directory, a .zip file or uploaded zip bytes, read
through `cnnkit.datasets.safe_files` (regular files only, zips checked before anything is unpacked)."""

import io
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np

from cnnkit.datasets.registry import RawData, register_dataset
from cnnkit.datasets.uploads import shown_name
from cnnkit.errors import InputError
from cnnkit.datasets.images import IMAGE_EXTENSIONS, decode_image, image_channels, resize_with_pad, to_array
from cnnkit.datasets.safe_files import (
    MAX_ENTRY_BYTES, MAX_ZIP_BYTES, MAX_ZIP_ENTRIES, READ_ERRORS, open_regular, open_zip, read_entry, read_regular,
    zip_path,
)

DEFAULT_IMAGE_SIZE = 64
MAX_IMAGE_SIZE = 1024


def read_image_folder(source: str | os.PathLike | bytes, image_size: int | None = None) -> RawData:
    """Images sorted into one sub-folder per class, each fitted to image_size x image_size.

    `source` is a directory, a .zip file, or the bytes of a zip. A single top-level folder
    around the class folders (as zipping a folder produces) is looked through. Hidden files,
    __MACOSX/ and files without an image extension are ignored. Images keep one channel if
    all of them are grayscale, else they all get three.
    """
    side = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    if not isinstance(side, int) or not 1 <= side <= MAX_IMAGE_SIZE:
        raise InputError(
            f"image_size must be a whole number from 1 to {MAX_IMAGE_SIZE}, not {side!r}."
        )
    if isinstance(source, bytes):
        return _read_zip(io.BytesIO(source), "the uploaded zip", side)
    path = Path(source)
    if path.is_dir():
        return _read_classes(*_walk(path), str(path), side)
    if path.exists():  # a zip file: entries are read one at a time, so it may be larger than an upload
        name = shown_name(path)
        with open_regular(path, MAX_ZIP_BYTES, name) as file:
            return _read_zip(file, name, side)
    raise InputError(f"{path} is neither a folder nor a zip file.")


FileReaders = dict[PurePosixPath, Callable[[], bytes]]


def _walk(root: Path) -> tuple[FileReaders, set[PurePosixPath]]:
    """The files and folders under `root` (symlinked folders are not followed); each file is read
    later as a regular file of at most MAX_ENTRY_BYTES. More than MAX_ZIP_ENTRIES files are refused."""
    files: FileReaders = {}
    folders = set()
    for dirpath, dirnames, filenames in os.walk(root):
        relative = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        folders.update(relative / name for name in dirnames)
        files.update({relative / name: partial(read_regular, Path(dirpath) / name, MAX_ENTRY_BYTES,
                                               f"{relative / name} in {root}") for name in filenames})
        if len(files) > MAX_ZIP_ENTRIES:
            raise InputError(f"{root} holds more than {MAX_ZIP_ENTRIES:,} files; at most {MAX_ZIP_ENTRIES:,} are "
                             "allowed.")
    return files, folders


def _read_zip(file: BinaryIO, source: str, side: int) -> RawData:
    with open_zip(file, source) as (archive, entries):
        files = {
            zip_path(entry.filename): partial(read_entry, archive, entry, source)
            for entry in entries
            if not entry.is_dir()
        }
        folders = {zip_path(entry.filename) for entry in entries if entry.is_dir()}
        return _read_classes(files, folders, source, side)


def _read_classes(
    files: FileReaders, folders: set[PurePosixPath], source: str, side: int
) -> RawData:
    groups = _group_by_class(list(files), folders, source)
    arrays, labels, ids, all_gray = [], [], [], True
    for label, paths in enumerate(groups.values()):
        for path in paths:
            name = f"{path} in {source}"
            try:
                data = files[path]()
            except READ_ERRORS as err:
                raise InputError(f"Cannot read {name} ({err}).") from err
            img = decode_image(data, name)
            all_gray = all_gray and image_channels(img) == 1
            arrays.append(resize_with_pad(to_array(img, 3), side))
            labels.append(label)
            ids.append(str(path))
    x = np.stack(arrays)
    # A grayscale image converted to RGB has three equal channels: keep one.
    x = np.ascontiguousarray(x[..., :1]) if all_gray else x
    return RawData(x, np.array(labels, dtype=np.int64), tuple(groups), ids=np.array(ids, dtype=str))


def _group_by_class(
    paths: list[PurePosixPath], folders: set[PurePosixPath], source: str
) -> dict[str, list[PurePosixPath]]:
    """Image paths by class folder, both sorted; wrapper folders around the classes are skipped."""
    visible = [path for path in paths if is_visible(path)]
    images = sorted(path for path in visible if path.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS)
    folders = {folder for folder in folders if is_visible(folder)}
    folders |= {parent for path in visible for parent in path.parents if parent.parts}
    depth = 0
    while len(_names_at(folders, depth)) == 1 and all(len(p.parts) > depth + 2 for p in images):
        depth += 1
    loose = [path for path in images if len(path.parts) == depth + 1]
    if loose:
        raise InputError(
            f"{loose[0]} in {source} is not inside a class folder; put the images of each class "
            f"in their own sub-folder."
        )
    classes = sorted(_names_at(folders, depth))
    if len(classes) < 2:
        raise InputError(
            f"{source} needs at least 2 class folders (one sub-folder of images per class); "
            f"found {len(classes)}{': ' if classes else ''}{', '.join(classes)}."
        )
    groups = {name: [path for path in images if path.parts[depth] == name] for name in classes}
    for name, members in groups.items():
        if not members:
            raise InputError(
                f"Class folder '{name}' in {source} has no images "
                f"({', '.join(sorted(IMAGE_EXTENSIONS))})."
            )
    return groups


def _names_at(folders: set[PurePosixPath], depth: int) -> set[str]:
    return {folder.parts[depth] for folder in folders if len(folder.parts) > depth}


def is_visible(path: PurePosixPath) -> bool:
    """False for hidden files and folders (a name starting with ".") and anything under __MACOSX/:
    what the dataset readers and the Classify page's zips skip."""
    return not any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


@register_dataset(
    "folder",
    "Your own images, one sub-folder per class (path: a folder or a .zip); "
    f"resized with padding to image_size (default {DEFAULT_IMAGE_SIZE})",
    needs_path=True,
)
def load_folder(path: str | None, image_size: int | None) -> RawData:
    return read_image_folder(path, image_size)

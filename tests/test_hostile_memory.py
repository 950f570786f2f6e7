"""Every hostile file ends in a one-line InputError, promptly, with under 500 MB of extra memory.

Each input is loaded in a fresh subprocess that reports its message and its peak resident memory
above what it held just before the load (Linux /proc: VmHWM after minus VmRSS before, with the
peak reset first where the kernel allows it). The big files are sparse, so they cost no disk.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MAX_EXTRA_MB = 500
CHILD = r"""
import json, sys
from pathlib import Path

def memory(field):
    return next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith(field + ":")) / 1024

kind, target = sys.argv[1], sys.argv[2]
from cnnkit import datasets
from cnnkit.errors import InputError
if kind == "batch zip":
    from cnnkit.models import predict
    data = Path(target).read_bytes()
load = {"csv": lambda: datasets.load_dataset("csv", path=target),
        "folder": lambda: datasets.load_dataset("folder", path=target),
        "dataset zip": lambda: datasets.read_image_folder(Path(target).read_bytes()),
        "batch zip": lambda: predict.files_from_zip(data, "upload.zip")}[kind]
try:
    Path("/proc/self/clear_refs").write_text("5")  # peak memory from here on
except OSError:
    pass
before = memory("VmRSS")
try:
    load()
    message = None
except InputError as error:
    message = str(error)
print(json.dumps({"message": message, "extra_mb": memory("VmHWM") - before}))
"""


def sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as file:
        file.truncate(size)
    return path


def class_folders(root: Path, hostile: str, make) -> Path:
    """Two class folders of one tiny PNG each, plus the hostile file `hostile`, made by `make(path)`."""
    from PIL import Image

    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        Image.new("L", (4, 4), 9).save(root / name / "ok.png")
    make(root / hostile)
    return root


def zip_bomb(path: Path) -> Path:
    """Five entries of 400 MB of zeros: 2 GB that pack into about 9 MB."""
    zeros = bytes(2**24)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index in range(5):
            with archive.open(f"cats/{index}.png", "w", force_zip64=True) as entry:
                for _ in range(25):
                    entry.write(zeros)
    return path


CASES = {
    "/dev/zero as the CSV": ("csv", lambda tmp: "/dev/zero", "/dev/zero is a character device, not a regular file"),
    "a .png symlinked to /dev/zero": (
        "folder", lambda tmp: class_folders(tmp / "faces", "cats/zero.png", lambda p: p.symlink_to("/dev/zero")),
        "cats/zero.png in"),
    "a FIFO as the CSV": ("csv", lambda tmp: (os.mkfifo(tmp / "pipe.csv"), tmp / "pipe.csv")[1],
                          "pipe.csv is a named pipe (FIFO), not a regular file"),
    "a FIFO named .png in a class folder": (
        "folder", lambda tmp: class_folders(tmp / "faces", "dogs/pipe.png", os.mkfifo), "dogs/pipe.png in"),
    "a sparse 3 GB file named .png": (
        "folder", lambda tmp: class_folders(tmp / "faces", "dogs/huge.png", lambda p: sparse(p, 3 * 2**30)),
        "dogs/huge.png in"),
    "a sparse 300 MB CSV": ("csv", lambda tmp: sparse(tmp / "big.csv", 300 * 2**20),
                            "big.csv is 300 MB; files are limited to 200 MB."),
    "150 MB of NUL bytes as the CSV": ("csv", lambda tmp: sparse(tmp / "nul.csv", 150 * 2**20),
                                       "nul.csv has no header line in its first 1 MB"),
    "a zip bomb on the Classify batch tab": ("batch zip", lambda tmp: zip_bomb(tmp / "bomb.zip"),
                                             "upload.zip unpacks to 2.0 GiB; at most 256 MB are allowed."),
    "a zip bomb as a dataset upload": ("dataset zip", lambda tmp: zip_bomb(tmp / "bomb.zip"),
                                       "the uploaded zip: 'cats/0.png' unpacks to 400 MB"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_input_ends_in_one_line_promptly_and_within_the_memory_bound(case, tmp_path):
    kind, make, expected = CASES[case]
    target = make(tmp_path)
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(target)], capture_output=True, text=True,
                          timeout=120)  # a FIFO read the usual way would block here for good
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{case}: {report['extra_mb']:.0f} MB extra; {report['message']}")
    assert report["message"] is not None and expected in report["message"]
    assert "\n" not in report["message"]
    assert report["extra_mb"] < MAX_EXTRA_MB

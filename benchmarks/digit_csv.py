"""Reading a Kaggle-sized digit-recognizer CSV: `datasets.read_digit_csv` against pandas' bare parse.

    .venv/bin/python benchmarks/digit_csv.py [--rows 42000] [--rounds 3]

Writes a Kaggle train.csv-shaped file (`label` + 784 pixel columns, 42,000 rows, mostly 0 with
some 255, like real digits) to a temporary folder. Times `read_digit_csv` on it (parse, check
every cell is a whole number 0-255, reshape to uint8 images) and, as the baseline in the same
process, `pandas.read_csv` of the same file alone, which `read_digit_csv` starts with. The arms
alternate and each keeps its best round (other processes only slow a round down). Prints both
and the ratio read_digit_csv / bare parse: what the checks and conversion add.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from cnnkit.datasets import read_digit_csv


def write_csv(path: Path, rows: int) -> None:
    header = ",".join(["label"] + [f"pixel{i}" for i in range(784)])
    row = ",".join(["7"] + ["0"] * 700 + ["255"] * 84)
    path.write_text(header + "\n" + (row + "\n") * rows)


def seconds_of(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=42_000, help="rows of the CSV (Kaggle's train.csv has 42,000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the two arms")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        write_csv(path, args.rows)
        print(f"{args.rows:,} rows x 785 columns, {path.stat().st_size / 1e6:.0f} MB")
        bare = cnnkit = float("inf")
        for _ in range(args.rounds):  # alternate, so a busy spell slows both arms alike
            bare = min(bare, seconds_of(lambda: pd.read_csv(path)))
            cnnkit = min(cnnkit, seconds_of(lambda: read_digit_csv(path)))
    print(f"pandas.read_csv alone (baseline): {bare:.2f} s")
    print(f"read_digit_csv:                   {cnnkit:.2f} s")
    print(f"ratio read_digit_csv / baseline:  {cnnkit / bare:.2f}x")


if __name__ == "__main__":
    main()

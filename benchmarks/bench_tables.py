"""Logging a 1,000,000-row Table against pyarrow writing the same rows, in the same run.

Target: runlake <= 1.5x floor.
  floor    the rows (a list of [id, label, score] lists) turned into columns and written by
           pyarrow alone: `pa.table(dict(zip(names, map(list, zip(*rows)))))` then
           `pq.write_table(table, path, compression="zstd")`.
  runlake  `runlake.Table(columns=names, data=rows)` (its type checks included), then
           `run.log({"preds": table})` and `run.finish()` (the file is written by the run's
           media file thread); init() is not timed.

Repetitions alternate (order flipped each time); the median is taken. The machine is shared:
the ratio, not the absolute time, is the result.

Usage: python benchmarks/bench_tables.py [--quick]. Data goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import runlake

NAMES = ["id", "label", "score"]
TARGET = 1.5


def make_rows(n: int, seed: int = 0) -> list[list]:
    rng = random.Random(seed)
    labels = [f"class_{i}" for i in range(10)]
    return [[i, labels[i % 10], rng.random()] for i in range(n)]


def time_floor(rows: list[list], folder: Path) -> float:
    gc.collect()
    t0 = time.perf_counter()
    table = pa.table(dict(zip(NAMES, map(list, zip(*rows)))))
    pq.write_table(table, folder / "floor.parquet", compression="zstd")
    return time.perf_counter() - t0


def time_runlake(rows: list[list], folder: Path) -> float:
    run = runlake.init(project="bench", settings=runlake.Settings(root=folder, quiet=True))
    gc.collect()
    t0 = time.perf_counter()
    run.log({"preds": runlake.Table(columns=NAMES, data=rows)})
    run.finish()
    elapsed = time.perf_counter() - t0
    assert any(folder.glob("runs/*/*/*/files/media/tables/*.table.parquet"))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k rows, 3 repetitions")
    args = parser.parse_args()
    n, reps = (100_000, 3) if args.quick else (1_000_000, 5)
    rows = make_rows(n)
    with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
        floors, mine = [], []
        for i in range(reps):
            folder = Path(tmp) / f"rep{i}"
            folder.mkdir()
            order = [0, 1] if i % 2 == 0 else [1, 0]
            for which in order:
                if which == 0:
                    floors.append(time_floor(rows, folder))
                else:
                    mine.append(time_runlake(rows, folder))
        size_floor = (Path(tmp) / "rep0" / "floor.parquet").stat().st_size
        size_mine = sum(f.stat().st_size for f in (Path(tmp) / "rep0").rglob("*.table.parquet"))
    floor, ours = statistics.median(floors), statistics.median(mine)
    ratio = ours / floor
    print(f"runlake bench_tables, {n:,} rows x 3 columns, Python {sys.version.split()[0]}, "
          f"median of {reps}")
    print(f"  floor (pyarrow columns + zstd write): {floor:.3f} s, {size_floor / 1e6:.1f} MB")
    print(f"  runlake (Table + run.log + finish): {ours:.3f} s, {size_mine / 1e6:.1f} MB")
    print(f"  ratio {ratio:.2f}x, target <= {TARGET}x: {'ok' if ratio <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()

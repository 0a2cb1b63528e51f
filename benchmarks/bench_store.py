"""Read- and init-side costs against store size: none may grow with the runs a store holds
beyond what the operation itself reads.

Stores of 10, 1,000 and 10,000 runs (`--quick`: 10 and 1,000) in one project, made fast: a
few small runs written by runlake, then their folders copied under new ids (segments hard
linked, run.json rewritten with the new id). For each size, medians of:

  init+finish       `runlake.init()` of a new run in that project and `finish()`, with the
                    recovery of the project's dead runs it starts (waited for); "named" passes
                    `name=`, which spares the count of the project's runs that numbers a
                    default name (sdk/tracking/session.py `_count_runs`).
  sql SELECT 1      `api.sql("SELECT 1")` on one Api, after a first call.
  sql one run       `api.sql("SELECT max(x) FROM history WHERE run_id = ?", [id])` on one Api,
                    after a first call (the refresh of every run's stamps is the fixed cost).
  Api().run(path)   a new Api and `run("entity/project/id")` each time.

Each line prints the figure per size and the ratio largest/smallest: PASS when it is at most
2.0 (noise on a shared machine, and what a refresh must stat, stay under it), else MISS.

Last, one 20,000-row x 10-key run read back in a fresh process, imports done first on both
sides: `Api(root).run(path).history(samples=None, format="polars")` (Api construction
included) against `pl.read_parquet` of its segment files; target <= 1.5x.

Usage: python benchmarks/bench_store.py [--quick]. A missed target prints MISS; exit status 0.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import runlake
from runlake.engine.layout import RunPaths
from runlake.engine.meta import read_json, write_json

SETTINGS = runlake.Settings(quiet=True, system_metrics=False)
PROJECT = "p"
SEEDS = 3
TARGET_GROWTH = 2.0
TARGET_READ = 1.5


def median_time(fn, reps: int) -> float:
    fn()  # warm-up, untimed
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def join_recovery() -> None:
    for t in threading.enumerate():
        if t.name == "runlake-recover":
            t.join()


# -- data ------------------------------------------------------------------------------------


def build_store(root: Path, n: int) -> None:
    """n finished runs: SEEDS written by runlake, the rest copies of them under new ids."""
    for i in range(SEEDS):
        with runlake.init(project=PROJECT, id=f"seed{i}", settings=SETTINGS.replace(root=root),
                          config={"i": i}) as run:
            for s in range(20):
                run.log({"x": float(s * (i + 1)), "y": s})
    join_recovery()
    for i in range(SEEDS, n):
        src = RunPaths.of(root, "local", PROJECT, f"seed{i % SEEDS}")
        dst = RunPaths.of(root, "local", PROJECT, f"r{i:06d}")
        shutil.copytree(src.history_dir, dst.history_dir, copy_function=os.link)
        meta = read_json(src.meta_file)
        dst.run_dir.mkdir(parents=True)
        write_json(dst.meta_file, {**meta, "id": dst.run_id, "name": dst.run_id})


# -- measures --------------------------------------------------------------------------------


def measure(root: Path, n: int, reps: int) -> dict[str, float]:
    counter = iter(range(10**6))

    def init_finish(**named) -> None:
        with runlake.init(project=PROJECT, id=f"new{next(counter)}", settings=SETTINGS.replace(root=root),
                          **named):
            pass
        join_recovery()

    api = runlake.Api(root)
    one = f"seed{1}"
    path = f"local/{PROJECT}/r{n - 1:06d}" if n > SEEDS else f"local/{PROJECT}/seed0"
    return {
        "init+finish": median_time(init_finish, reps),
        # With a name, init() does not count the project's runs to number a default one.
        "init+finish named": median_time(lambda: init_finish(name="named"), reps),
        "sql SELECT 1": median_time(lambda: api.sql("SELECT 1").fetchall(), reps * 4),
        "sql one run": median_time(lambda: api.sql(
            "SELECT max(x) FROM history WHERE run_id = ?", [one]).fetchall(), reps),
        "Api().run(path)": median_time(lambda: runlake.Api(root).run(path), reps * 4),
    }


_READ_CHILD = """
import glob, json, sys, time
import polars as pl
import runlake
import runlake.query.api, runlake.query.history, runlake.query.public_run  # imports excluded
root, side = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(f"{root}/history/*/project=read/run_id=long/*.parquet"))
t0 = time.perf_counter()
if side == "floor":
    df = pl.read_parquet(files)
else:
    df = runlake.Api(root).run("read/long").history(samples=None, format="polars")
print(json.dumps({"s": time.perf_counter() - t0, "rows": df.height}))
"""


def bench_read(root: Path, reps: int) -> tuple[float, float, int]:
    with runlake.init(project="read", id="long", settings=SETTINGS.replace(root=root)) as run:
        for s in range(20_000):
            run.log({f"k{j}": float(s + j) for j in range(10)})
    join_recovery()
    times: dict[str, list[float]] = {"floor": [], "runlake": []}
    rows = 0
    for rep in range(reps + 1):
        for side in (("floor", "runlake") if rep % 2 else ("runlake", "floor")):
            out = subprocess.run([sys.executable, "-c", _READ_CHILD, str(root), side],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            rows = r["rows"]
            if rep:  # the first round warms the page cache and the catalog on disk
                times[side].append(r["s"])
    return statistics.median(times["floor"]), statistics.median(times["runlake"]), rows


# -- report ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="stop at 1,000 runs")
    args = parser.parse_args()
    sizes = (10, 1_000) if args.quick else (10, 1_000, 10_000)
    reps = 3 if args.quick else 5
    print(f"runlake bench_store ({'quick' if args.quick else 'full'}), "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    figures: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
        for n in sizes:
            root = Path(tmp) / f"store{n}"
            t0 = time.perf_counter()
            build_store(root, n)
            built = time.perf_counter() - t0
            figures[n] = measure(root, n, reps)
            print(f"  {n:,} runs: built in {built:.1f} s, measured in "
                  f"{time.perf_counter() - t0 - built:.1f} s", flush=True)
        floor, mine, rows = bench_read(Path(tmp) / "read", reps)
    head = "".join(f"{f'{n:,} runs':>12}" for n in sizes)
    print(f"\n{'cost':<18}{head}{'ratio':>9}  result (target <= {TARGET_GROWTH}x)")
    print("-" * (18 + 12 * len(sizes) + 20))
    for name in figures[sizes[0]]:
        values = [figures[n][name] for n in sizes]
        ratio = values[-1] / values[0]
        cells = "".join(f"{v * 1e3:10.2f}ms" for v in values)
        print(f"{name:<18}{cells}{ratio:8.2f}x  {'PASS' if ratio <= TARGET_GROWTH else 'MISS'}")
    ratio = mine / floor
    print(f"\nhistory -> polars, {rows:,} rows, fresh process: runlake {mine * 1e3:.1f} ms, "
          f"pl.read_parquet {floor * 1e3:.1f} ms, {ratio:.2f}x (target <= {TARGET_READ}x)  "
          f"{'PASS' if ratio <= TARGET_READ else 'MISS'}")


if __name__ == "__main__":
    main()

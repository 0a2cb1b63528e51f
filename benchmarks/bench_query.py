"""Read-side benchmarks of `runlake.Api`, each against plain tools on the same files, in one run.

The machine is shared and noisy: every target is a ratio to a floor measured in the same
process, repetitions interleaved (order flipped each time), medians taken. Data is written
by runlake itself into a temporary store (the 10,000-run store clones one real run.json with
the engine's own writer, varying id, name, config, summary and created_at).

Targets:
  history -> polars      one 1,000,000-step x 10-key run, `run.history(samples=None,
                         format="polars")` <= 1.5x `pl.read_parquet` of the run's segment files.
  many runs, per-run max 1,000 runs x 10,000 steps x 10 metrics; the max of one metric per run
                         for the runs matching a config filter, through `api.runs(...)` +
                         `api.sql` (and, reported beside it, `api.history` + polars), with a new
                         Api each time, <= 1.5x the same query by hand in DuckDB: read_parquet
                         over the history glob (hive_partitioning, union_by_name, as README's
                         query) joined with read_json over the run.json files for the filter.
  runs() first page      10,000 runs: the first 50 runs matching a config filter, newest first,
                         < 0.5x opening and parsing every run.json in Python with the same
                         filter and order. Measured with a new Api each time (its catalog on
                         disk, as a new notebook sees it) and with one Api reused.
  scan_history memory    streaming the 1,000,000-row run in a fresh process: peak RSS growth
                         < 100 MB (VmHWM after minus RSS before, the Api made and imports done).

Usage: python benchmarks/bench_query.py [--quick]. A missed target prints MISS; exit status 0.
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import psutil
from bench_log import peak_rss

import runlake
from runlake.engine.layout import RunPaths
from runlake.engine.meta import read_json, write_json

SETTINGS = runlake.Settings(quiet=True)
KEYS = [f"m{j}" for j in range(10)]
FILTER = {"config.lr": {"$lt": 0.005}, "config.arch": "cnn"}  # a quarter of the runs


def timed(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds of each function, repetitions interleaved, order flipped each time."""
    for fn in fns.values():
        fn()  # warm-up, untimed: imports, the OS page cache, runlake's catalog on disk
    times: dict[str, list[float]] = {name: [] for name in fns}
    for rep in range(reps):
        for name in (list(fns) if rep % 2 == 0 else list(fns)[::-1]):
            gc.collect()
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


# -- data ------------------------------------------------------------------------------------


def log_run(root: Path, project: str, run_id: str, steps: int, config: dict | None = None) -> None:
    rnd = random.Random(run_id).random
    with runlake.init(project=project, id=run_id, config=config, settings=SETTINGS.replace(root=root)) as run:
        log = run.log
        for _ in range(steps):
            log({k: rnd() for k in KEYS})


def config_of(i: int) -> dict:
    return {"lr": 10.0 ** -(1 + i % 4), "seed": i, "arch": ("mlp", "cnn")[i % 2],
            "opt": {"name": "adam", "beta": 0.9}}


def clone_runs(root: Path, project: str, n: int) -> None:
    """n runs' metadata: one real run, then copies of its run.json with varied fields."""
    log_run(root, project, "seed", 10, config_of(0))
    base = read_json(RunPaths.of(root, "local", project, "seed").meta_file)
    rng = random.Random(0)
    for i in range(1, n):
        rid = f"r{i:06d}"
        meta = {**base, "id": rid, "name": f"run-{i}", "config": config_of(i),
                "summary": {"m0": rng.random(), "m1": rng.random(), "_step": 9},
                "created_at": f"2026-{1 + i // 2000 % 12:02d}-{1 + i // 80 % 25:02d}T"
                              f"{i // 4 % 20:02d}:{i % 60:02d}:{i * 7 % 60:02d}.{i:06d}Z"}
        write_json(RunPaths.of(root, "local", project, rid).meta_file, meta)


# -- benchmarks --------------------------------------------------------------------------------


def bench_history(root: Path, reps: int) -> dict:
    files = sorted(glob.glob(f"{root}/history/*/project=big/run_id=big/*.parquet"))
    run = runlake.Api(root=root).run("big/big")
    mine = run.history(samples=None, format="polars")
    floor = pl.read_parquet(files)
    assert mine.equals(floor)
    t = timed({"floor": lambda: pl.read_parquet(files),
               "runlake": lambda: run.history(samples=None, format="polars")}, reps)
    return {"name": f"history -> polars, {floor.height:,} x {len(KEYS)}", "floor": t["floor"],
            "runlake": t["runlake"], "target": 1.5,
            "detail": f"{len(files)} segment files; floor pl.read_parquet(files)"}


def bench_many(root: Path, reps: int) -> list[dict]:
    hand_sql = (
        "SELECT h.run_id, max(h.m3) FROM read_parquet(?, hive_partitioning = true,"
        " union_by_name = true) h WHERE h.run_id IN (SELECT id FROM read_json(?)"
        " WHERE config.lr < 0.005 AND config.arch = 'cnn') GROUP BY 1"
    )

    def hand():
        con = duckdb.connect()
        return con.execute(hand_sql, [f"{root}/history/*/*/*/*.parquet",
                                      f"{root}/runs/*/*/*/run.json"]).fetchall()

    def by_sql():
        api = runlake.Api(root=root)
        ids = [r.id for r in api.runs("many", filters=FILTER, per_page=1000)]
        return api.sql("SELECT run_id, max(m3) FROM history WHERE run_id IN (SELECT unnest(?))"
                       " GROUP BY 1", [ids]).fetchall()

    def by_polars():
        api = runlake.Api(root=root)
        lf = api.history("many", keys=["m3"], filters=FILTER)
        return lf.group_by("run_id").agg(pl.col("m3").max()).collect().rows()

    expect = sorted(hand())
    assert sorted(by_sql()) == expect and sorted(by_polars()) == expect and expect
    t = timed({"hand": hand, "sql": by_sql, "polars": by_polars}, reps)
    runs = len(runlake.Api(root=root).runs("many"))
    detail = f"{runs:,} runs, {len(expect)} match the filter; floor: hand-written DuckDB"
    return [
        {"name": "many runs: runs()+sql", "floor": t["hand"], "runlake": t["sql"],
         "target": 1.5, "detail": detail},
        {"name": "many runs: history()+polars", "floor": t["hand"], "runlake": t["polars"],
         "target": 1.5, "detail": detail},
    ]


def bench_runs_page(root: Path, reps: int) -> list[dict]:
    def python_scan():
        found = []
        for path in glob.glob(f"{root}/runs/entity=local/project=tenk/run_id=*/run.json"):
            with open(path, encoding="utf-8") as f:
                meta = json.load(f)
            config = meta.get("config") or {}
            lr = config.get("lr")
            if isinstance(lr, (int, float)) and lr < 0.005 and config.get("arch") == "cnn":
                found.append(meta)
        found.sort(key=lambda m: m.get("created_at") or "", reverse=True)
        return [m["id"] for m in found[:50]]

    def cold():
        return [r.id for r in runlake.Api(root=root).runs("tenk", filters=FILTER)[:50]]

    api = runlake.Api(root=root)

    def warm():
        return [r.id for r in api.runs("tenk", filters=FILTER)[:50]]

    assert python_scan() == cold() == warm()
    t = timed({"python": python_scan, "cold": cold, "warm": warm}, reps)
    n = len(glob.glob(f"{root}/runs/entity=local/project=tenk/run_id=*/run.json"))
    detail = f"{n:,} runs; floor: glob + json.load + filter + sort in Python"
    return [
        {"name": "runs() first page, new Api", "floor": t["python"], "runlake": t["cold"],
         "target": 0.5, "strict": True, "detail": detail},
        {"name": "runs() first page, same Api", "floor": t["python"], "runlake": t["warm"],
         "target": 0.5, "strict": True, "detail": detail},
    ]


def scan_child(root: str) -> None:
    """In a fresh process: stream the big run with scan_history, print RSS figures as JSON."""
    run = runlake.Api(root=root).run("big/big")
    gc.collect()
    base = psutil.Process().memory_info().rss
    rows, total = 0, 0.0
    for row in run.scan_history(page_size=1000):
        rows += 1
        total += row["m3"]
    print(json.dumps({"base": base, "peak": peak_rss(), "rows": rows}))


def bench_scan_memory(root: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--scan-child", str(root)],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    growth = r["peak"] - r["base"]
    return {"name": f"scan_history memory, {r['rows']:,} rows", "floor": None,
            "runlake": growth / 1e6, "target": 100.0, "unit": "MB", "strict": True,
            "detail": f"RSS before {r['base'] / 2**20:.0f} MiB, peak {r['peak'] / 2**20:.0f} MiB"}


# -- report ------------------------------------------------------------------------------------


def report(results: list[dict]) -> None:
    print(f"\n{'benchmark':<40} {'floor':>9} {'runlake':>9} {'ratio':>7} {'target':>8}  result")
    print("-" * 86)
    for r in results:
        if r.get("unit") == "MB":
            value, floor, ratio, target = r["runlake"], "-", f"{r['runlake']:6.0f}MB", f"<{r['target']:.0f} MB"
            mine = f"{value:7.0f}MB"
        else:
            value = r["runlake"] / r["floor"]
            floor, mine = f"{r['floor']:8.3f}s", f"{r['runlake']:8.3f}s"
            ratio, target = f"{value:6.2f}x", f"{'<' if r.get('strict') else '<='} {r['target']}x"
        ok = value < r["target"] if r.get("strict") else value <= r["target"]
        print(f"{r['name']:<40} {floor:>9} {mine:>9} {ratio:>7} {target:>8}  "
              f"{'PASS' if ok else 'MISS'}")
    print()
    for r in results:
        print(f"* {r['name']}: {r['detail']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--scan-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scan_child:
        scan_child(args.scan_child)
        return
    q = args.quick
    big_steps, many, many_steps, tenk = ((100_000, 50, 2_000, 1_000) if q
                                         else (1_000_000, 1_000, 10_000, 10_000))
    reps = 3 if q else 5
    print(f"runlake bench_query ({'quick' if q else 'full'}), Python {sys.version.split()[0]}, "
          f"duckdb {duckdb.__version__}, polars {pl.__version__}, {psutil.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        log_run(root, "big", "big", big_steps)
        for i in range(many):
            log_run(root, "many", f"run{i:05d}", many_steps, config_of(i))
        clone_runs(root, "tenk", tenk)
        print(f"  data written in {time.perf_counter() - t0:.0f} s", flush=True)
        results = []
        for label, fn in [
            ("history", lambda: [bench_history(root, reps)]),
            ("many runs", lambda: bench_many(root, reps)),
            ("runs page", lambda: bench_runs_page(root, reps)),
            ("scan memory", lambda: [bench_scan_memory(root)]),
        ]:
            t0 = time.perf_counter()
            results += fn()
            print(f"  {label}: measured in {time.perf_counter() - t0:.1f} s", flush=True)
    report(results)


if __name__ == "__main__":
    main()

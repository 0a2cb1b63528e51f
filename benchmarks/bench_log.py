"""Write-path benchmarks of `run.log()` and `run.finish()`, each against a floor in the same run.

The machine is shared and noisy, so every target is a ratio to a floor measured in the same
process, with repetitions interleaved (floor and runlake alternate, order flipped each time)
and the median taken. Absolute numbers are printed too.

Targets:
  log, 10 float keys    runlake <= 2x floor per step. Floor: a plain loop appending each value
                        of the same dicts to per-key lists (`lists[k].append(v)`, lists made on
                        first sight). Runlake: the log loop PLUS `run._flush()` (blocks until all
                        is in the write-ahead log, so the writer thread's conversion, which
                        shares the GIL, is counted); finish() excluded.
  log, 1,000 keys       the same, 1,000 float keys per step.
  finish()              of a 1M-step x 10-key run <= 2x pyarrow alone writing the same table
                        (read back from the run) as one zstd Parquet file with
                        `pq.write_table(table, path, compression="zstd")`. Only finish() timed.
  memory                peak RSS growth < 150 MB while logging 5M steps x 10 float keys and
                        finishing; measured in a fresh subprocess (RSS sampled every 50 ms from
                        the parent, and the child's own peak, VmHWM; the larger growth counts).

Dicts are pre-built and cycled (1,000 distinct ones for 10 keys, 100 for 1,000 keys).
The floor is `defaultdict(list)` in a function, like the runlake loop.

Usage: python benchmarks/bench_log.py [--quick]. Store data goes to a temporary directory.
A missed target is printed as MISS; the script still exits 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

import runlake
from runlake.engine.segment import read_segments

SETTINGS = runlake.Settings(quiet=True)


def make_dicts(width: int, count: int, seed: int = 0) -> list[dict[str, float]]:
    """`count` distinct dicts of `width` float keys (same keys, same order), cycled by callers."""
    rng = random.Random(seed)
    keys = [f"metric_{j:04d}" for j in range(width)]
    return [{k: rng.random() for k in keys} for _ in range(count)]


def time_floor(dicts: list[dict[str, float]], n: int) -> float:
    """Seconds for the floor: append every value to a per-key list."""
    m = len(dicts)
    gc.collect()
    t0 = time.perf_counter()
    lists: defaultdict[str, list[float]] = defaultdict(list)
    for i in range(n):
        for k, v in dicts[i % m].items():
            lists[k].append(v)
    elapsed = time.perf_counter() - t0
    assert len(lists[next(iter(dicts[0]))]) == n
    return elapsed


def time_runlake(dicts: list[dict[str, float]], n: int) -> tuple[float, float]:
    """(loop seconds, _flush() seconds) of logging n steps; finish() runs untimed afterwards."""
    m = len(dicts)
    with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
        run = runlake.init(project="bench", settings=SETTINGS.replace(root=tmp))
        gc.collect()
        log = run.log
        t0 = time.perf_counter()
        for i in range(n):
            log(dicts[i % m])
        t1 = time.perf_counter()
        ok = run._flush()
        t2 = time.perf_counter()
        assert ok and run.step == n
        run.finish()
    return t1 - t0, t2 - t1


def bench_log(width: int, n: int, reps: int, ndicts: int) -> dict[str, object]:
    dicts = make_dicts(width, ndicts)
    time_floor(dicts, min(n, 20_000))  # warm-up, untimed
    time_runlake(dicts, min(n, 20_000))
    floors, loops, flushes, totals = [], [], [], []
    for rep in range(reps):
        order = ("floor", "runlake") if rep % 2 else ("runlake", "floor")
        for what in order:
            if what == "floor":
                floors.append(time_floor(dicts, n))
            else:
                loop, flush = time_runlake(dicts, n)
                loops.append(loop)
                flushes.append(flush)
                totals.append(loop + flush)
    floor, total = statistics.median(floors), statistics.median(totals)
    return {
        "name": f"log() {width} keys, {n:,} steps",
        "floor": floor / n, "runlake": total / n, "ratio": total / floor, "target": 2.0,
        "unit": "per step",
        "detail": (
            f"runlake loop {statistics.median(loops) / n * 1e6:.2f} us/step + _flush() "
            f"{statistics.median(flushes) * 1e3:.0f} ms (median); _flush() per rep ms: "
            + ", ".join(f"{f * 1e3:.0f}" for f in flushes)
            + "; runlake/floor per rep: "
            + ", ".join(f"{t / f:.2f}" for t, f in zip(totals, floors))
        ),
    }


def bench_finish(n: int, reps: int) -> dict[str, object]:
    dicts = make_dicts(10, 1000)
    m = len(dicts)

    def one_run(tmp: str) -> tuple[float, int, runlake.Run]:
        run = runlake.init(project="bench", settings=SETTINGS.replace(root=tmp))
        log = run.log
        for i in range(n):
            log(dicts[i % m])
        before = run._writer.rows_compacted  # rows already in Parquet when finish() starts
        gc.collect()
        t0 = time.perf_counter()
        run.finish()
        return time.perf_counter() - t0, before, run

    with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
        _, _, run = one_run(tmp)  # warm-up; its output is the floor's table
        table = read_segments(run._paths.history_dir).combine_chunks()
    assert table.num_rows == n and table.num_columns == 13, table.schema
    finishes, floors, compacted = [], [], []
    for rep in range(reps):
        order = ("floor", "runlake") if rep % 2 else ("runlake", "floor")
        for what in order:
            with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
                if what == "floor":
                    gc.collect()
                    t0 = time.perf_counter()
                    pq.write_table(table, Path(tmp) / "floor.parquet", compression="zstd")
                    floors.append(time.perf_counter() - t0)
                else:
                    elapsed, before, _ = one_run(tmp)
                    finishes.append(elapsed)
                    compacted.append(before)
    floor, fin = statistics.median(floors), statistics.median(finishes)
    return {
        "name": f"finish() {n:,} steps x 10 keys",
        "floor": floor, "runlake": fin, "ratio": fin / floor, "target": 2.0, "unit": "total",
        "detail": (
            f"floor = pq.write_table of the run's own {table.num_rows:,}x{table.num_columns} "
            f"table ({table.nbytes / 2**20:.0f} MiB Arrow); rows already compacted into Parquet "
            f"during logging, before finish(): " + ", ".join(f"{c:,}" for c in compacted)
            + "; finish() per rep s: " + ", ".join(f"{f:.3f}" for f in finishes)
            + "; floor per rep s: " + ", ".join(f"{f:.3f}" for f in floors)
        ),
    }


def peak_rss() -> int:
    """This process's peak RSS in bytes. VmHWM, not ru_maxrss: on Linux a child's ru_maxrss
    starts from its parent's peak (it survives fork/vfork + exec), VmHWM does not."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def memory_child(n: int) -> None:
    """Run in a fresh process: log n steps x 10 keys, finish, print RSS figures as JSON."""
    dicts = make_dicts(10, 100)
    m = len(dicts)
    gc.collect()
    proc = psutil.Process()
    base = proc.memory_info().rss
    print(json.dumps({"ready": True, "base": base}), flush=True)
    with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
        t0 = time.perf_counter()
        run = runlake.init(project="bench", settings=SETTINGS.replace(root=tmp))
        log = run.log
        for i in range(n):
            log(dicts[i % m])
        t1 = time.perf_counter()
        run.finish()
        t2 = time.perf_counter()
    print(json.dumps({"base": base, "maxrss": peak_rss(), "loop": t1 - t0, "finish": t2 - t1}),
          flush=True)


def run_memory_child(n: int, script: str = __file__, *extra: str) -> dict[str, float]:
    """Run `script --memory-child n` in a fresh interpreter, sampling its RSS every 50 ms."""
    child = subprocess.Popen(
        [sys.executable, script, "--memory-child", str(n), *extra],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    json.loads(child.stdout.readline())  # the child has its baseline; sampling starts now
    ps = psutil.Process(child.pid)
    peak, peak_at, t0 = 0, 0.0, time.perf_counter()
    while child.poll() is None:
        try:
            rss = ps.memory_info().rss
        except psutil.Error:
            break
        if rss > peak:
            peak, peak_at = rss, time.perf_counter() - t0
        time.sleep(0.05)
    result = json.loads(child.stdout.read().strip().splitlines()[-1])
    child.wait()
    result.update(peak=peak, peak_at=peak_at, growth=max(peak, result["maxrss"]) - result["base"])
    return result


def bench_memory(n: int) -> dict[str, object]:
    small = run_memory_child(10_000)  # the part that does not grow with steps (lazy imports...)
    r = run_memory_child(n)
    mib = 2**20
    return {
        "name": f"memory: {n:,} steps x 10 keys",
        "floor": None, "runlake": r["growth"] / mib, "ratio": r["growth"] / 150e6,
        "target": 1.0, "unit": "MiB",
        "detail": (
            f"RSS before init {r['base'] / mib:.0f} MiB; sampled peak {r['peak'] / mib:.0f} MiB "
            f"at {r['peak_at']:.1f} s; VmHWM {r['maxrss'] / mib:.0f} MiB; growth "
            f"{r['growth'] / 1e6:.0f} MB vs 150 MB; log loop {r['loop']:.1f} s "
            f"({r['loop'] / n * 1e6:.2f} us/step), finish {r['finish']:.2f} s. "
            f"For scale, a 10,000-step run grows by {small['growth'] / 1e6:.0f} MB "
            "(libraries loaded on first use, buffers)"
        ),
    }


def fmt_time(seconds: float, unit: str) -> str:
    return f"{seconds * 1e6:8.2f} us" if unit == "per step" else f"{seconds:8.3f} s "


def report(results: list[dict[str, object]]) -> None:
    print()
    print(f"{'benchmark':<34} {'floor':>11} {'runlake':>11} {'ratio':>7} {'target':>8}  result")
    print("-" * 84)
    for r in results:
        ok = r["ratio"] <= r["target"] if r["unit"] != "MiB" else r["ratio"] < r["target"]
        if r["unit"] == "MiB":
            floor, mine, target = "-", f"{r['runlake']:7.1f} MiB", "<150 MB"
        else:
            floor, mine = fmt_time(r["floor"], r["unit"]), fmt_time(r["runlake"], r["unit"])
            target = f"<= {r['target']:.0f}x"
        print(f"{r['name']:<34} {floor:>11} {mine:>11} {r['ratio']:6.2f}x {target:>8}  "
              f"{'PASS' if ok else 'MISS'}")
    print()
    for r in results:
        print(f"* {r['name']}: {r['detail']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    q = args.quick
    print(f"runlake bench_log ({'quick' if q else 'full'}), Python {sys.version.split()[0]}, "
          f"pyarrow {pa.__version__}, {psutil.cpu_count()} CPUs")
    results = []
    for label, fn in [
        ("log 10 keys", lambda: bench_log(10, 50_000 if q else 300_000, 3 if q else 5, 1000)),
        ("log 1,000 keys", lambda: bench_log(1000, 500 if q else 3_000, 3 if q else 5, 100)),
        ("finish", lambda: bench_finish(200_000 if q else 1_000_000, 2 if q else 3)),
        ("memory", lambda: bench_memory(1_000_000 if q else 5_000_000)),
    ]:
        t0 = time.perf_counter()
        results.append(fn())
        print(f"  {label}: measured in {time.perf_counter() - t0:.1f} s", flush=True)
    report(results)


if __name__ == "__main__":
    main()

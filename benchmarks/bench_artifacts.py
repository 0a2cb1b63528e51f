"""Artifact benchmarks: `run.log_artifact` against hashing and copying by hand, in one run.

The machine is shared and noisy: each target is a ratio to a floor measured in the same
process, repetitions interleaved (order flipped each time), medians taken; `os.sync()` runs
(untimed) before each measurement so one's write-back does not land in another's time.

Targets:
  first log     log_artifact of a 1 GB folder of 1,000 files into an empty store <= 1.5x
                hashing every file with sha256 (runlake's hash) plus shutil.copyfile of each
                into an empty folder.
  dedup re-log  a second log_artifact of the unchanged folder (every object already stored,
                the existing version returned) <= 1.2x hashing every file alone.

Usage: python benchmarks/bench_artifacts.py [--quick]. A missed target prints MISS; exit 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import runlake
from runlake.engine.objects import hash_file

SETTINGS = runlake.Settings(quiet=True)


def make_folder(folder: Path, files: int, size: int) -> None:
    folder.mkdir(parents=True)
    for i in range(files):
        (folder / f"d{i % 10}").mkdir(exist_ok=True)
        (folder / f"d{i % 10}" / f"f{i:05d}.bin").write_bytes(os.urandom(size))


def timed(fns: dict[str, tuple[Callable[[], object], Callable[[], object]]],
          reps: int) -> dict[str, float]:
    """Median seconds of each (setup, measured) pair; setups untimed."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for rep in range(reps):
        for name in (list(fns) if rep % 2 == 0 else list(fns)[::-1]):
            setup, fn = fns[name]
            setup()
            os.sync()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 MB instead of 1 GB")
    args = parser.parse_args()
    files, size = (100, 1 << 20) if args.quick else (1000, 1 << 20)
    reps = 3
    print(f"runlake bench_artifacts ({'quick' if args.quick else 'full'}): {files} files x "
          f"{size >> 20} MiB, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="runlake-bench-", dir=".") as tmp:
        base = Path(tmp)
        src = base / "src"
        make_folder(src, files, size)
        paths = sorted(p for p in src.rglob("*") if p.is_file())
        state: dict[str, object] = {}

        def fresh(name: str) -> Callable[[], None]:
            def setup() -> None:
                shutil.rmtree(base / name, ignore_errors=True)
                (base / name).mkdir()
            return setup

        def floor_copy() -> None:
            for p in paths:
                hash_file(p)
                shutil.copyfile(p, base / "copy" / p.name)

        def new_store() -> None:
            if "run" in state:
                state["run"].finish()
            fresh("store")()
            state["run"] = runlake.init(project="bench", settings=SETTINGS.replace(root=base / "store"))

        def log_first() -> None:
            state["run"].log_artifact(str(src), name="data", type="dataset")

        first = timed({"floor": (fresh("copy"), floor_copy), "runlake": (new_store, log_first)},
                      reps)
        state["run"].finish()

        def floor_hash() -> None:
            for p in paths:
                hash_file(p)

        with runlake.init(project="bench", settings=SETTINGS.replace(root=base / "store")) as run:
            def relog() -> None:
                art = run.log_artifact(str(src), name="data", type="dataset")
                assert art.version == "v0", art.version  # the existing version, not a new one
            dedup = timed({"floor": (lambda: None, floor_hash), "runlake": (lambda: None, relog)},
                          reps)

    rows = [("first log (hash + copy)", first, 1.5), ("dedup re-log (hash)", dedup, 1.2)]
    print(f"\n{'benchmark':<28} {'floor':>9} {'runlake':>9} {'ratio':>7} {'target':>8}  result")
    print("-" * 74)
    for name, t, target in rows:
        ratio = t["runlake"] / t["floor"]
        print(f"{name:<28} {t['floor']:8.3f}s {t['runlake']:8.3f}s {ratio:6.2f}x "
              f"{'<= ' + str(target) + 'x':>8}  {'PASS' if ratio <= target else 'MISS'}")
    mb = files * size / 1e6
    print(f"\n* {mb:.0f} MB; floor throughput: first {mb / first['floor']:.0f} MB/s, "
          f"dedup {mb / dedup['floor']:.0f} MB/s")


if __name__ == "__main__":
    main()

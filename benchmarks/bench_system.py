"""Does system-metrics sampling or console capture slow `log()`? A ratio, measured.

The 10-float-key log() loop of benchmarks/bench_log.py (plus `run._flush()`, so the writer
thread's work, which shares the GIL, is counted), in two configurations alternating in one
process, order flipped each repetition; the ratio is the median of each repetition's on/off:

  off   Settings(system_metrics=False, console="off")
  on    system metrics sampled every 0.1 s (100x wandb's rate, to stress it) and console
        capture on; the loop also prints a line every 1,000 steps (to /dev/null, in both
        configurations), so the tee is exercised.

It also measures the two costs directly: how long one sample takes (the GIL time the
sampler thread can take from the loop, per interval), and a write through the console capture
against the same write to /dev/null.

Target: on / off ~ 1.0x (ratio of the medians; each repetition's ratio is printed too). Usage: python benchmarks/bench_system.py [--quick]. The store goes
to a temporary directory. A ratio above 1.10 is printed as MISS; the script exits 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import runlake

OFF = runlake.Settings(quiet=True, system_metrics=False, console="off")
ON = runlake.Settings(quiet=True, system_metrics_interval=0.1, console="auto")


def dicts(count: int = 1000) -> list[dict[str, float]]:
    keys = [f"metric_{j:04d}" for j in range(10)]
    return [{k: (i * 31 + j) % 997 / 997 for j, k in enumerate(keys)} for i in range(count)]


def one(settings: runlake.Settings, rows: list[dict[str, float]], n: int) -> tuple[float, int]:
    """(seconds for n log() calls and the flush, system samples taken)."""
    m = len(rows)
    with tempfile.TemporaryDirectory(prefix="runlake-bench-system-") as tmp, \
            open(os.devnull, "w") as devnull:
        saved, sys.stdout = sys.stdout, devnull
        try:
            run = runlake.init(project="bench", settings=settings.replace(root=tmp))
            log = run.log
            gc.collect()
            t0 = time.perf_counter()
            for i in range(n):
                log(rows[i % m])
                if i % 1000 == 0:
                    print("step", i, "loss", rows[i % m]["metric_0000"])
            run._flush()
            elapsed = time.perf_counter() - t0
            monitor = run._monitors.system if run._monitors is not None else None
            run.finish()
        finally:
            sys.stdout = saved
        samples = monitor.samples if monitor is not None else 0
    return elapsed, samples


def sample_cost(count: int = 50) -> float:
    """Median seconds one system sample takes (the GIL time the sampler thread can take)."""
    from runlake.monitor.gpu import Gpus
    from runlake.monitor.sampler import Sampler

    sampler = Sampler(gpus=Gpus.open())
    costs = []
    for _ in range(count):
        t0 = time.perf_counter()
        sampler.sample()
        costs.append(time.perf_counter() - t0)
    sampler.close()
    return statistics.median(costs)


def tee_cost(n: int = 200_000) -> tuple[float, float]:
    """(seconds per write to /dev/null, the same through the console tee)."""
    from runlake.monitor.console import ConsoleCapture

    line = "step 123 loss 0.456\n"
    with tempfile.TemporaryDirectory(prefix="runlake-bench-tee-") as tmp, \
            open(os.devnull, "w") as devnull:
        saved, sys.stdout = sys.stdout, devnull
        capture = ConsoleCapture(Path(tmp) / "output.log")
        try:
            write = devnull.write
            t0 = time.perf_counter()
            for _ in range(n):
                write(line)
            plain = (time.perf_counter() - t0) / n
            capture.start()
            write = sys.stdout.write
            t0 = time.perf_counter()
            for _ in range(n):
                write(line)
            teed = (time.perf_counter() - t0) / n
        finally:
            capture.stop()
            sys.stdout = saved
    return plain, teed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions")
    args = parser.parse_args()
    n, reps = (200_000, 3) if args.quick else (1_000_000, 7)
    rows = dicts()
    one(OFF, rows, 10_000)  # warm up imports and caches
    one(ON, rows, 10_000)
    times: dict[str, list[float]] = {"off": [], "on": []}
    samples = []
    for rep in range(reps):
        order = [("off", OFF), ("on", ON)] if rep % 2 == 0 else [("on", ON), ("off", OFF)]
        for name, settings in order:
            elapsed, taken = one(settings, rows, n)
            times[name].append(elapsed)
            if name == "on":
                samples.append(taken)
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    ratio = on / off
    # Each repetition's pair ran back to back: their spread shows the machine's noise.
    paired = sorted(a / b for a, b in zip(times["on"], times["off"]))
    print(f"log() x {n:,}, 10 float keys, median of {reps} (interleaved):")
    print(f"  off: {off / n * 1e6:.3f} µs/step   on: {on / n * 1e6:.3f} µs/step   "
          f"ratio on/off: {ratio:.3f}x  {'ok' if ratio <= 1.10 else 'MISS'} (target ~1.0x)")
    print(f"  each repetition's on/off: {', '.join(f'{r:.3f}' for r in paired)}")
    print(f"  system samples per 'on' run: {statistics.median(samples):.0f} "
          f"(every 0.1 s over ~{on:.1f} s)")
    cost = sample_cost()
    print(f"  one system sample: {cost * 1e3:.2f} ms, i.e. {cost / 10 * 100:.3f}% of a core at "
          f"the default 10 s interval, {cost / 0.1 * 100:.2f}% at 0.1 s")
    plain, teed = tee_cost()
    print(f"  a write to sys.stdout (/dev/null): {plain * 1e9:.0f} ns plain, "
          f"{teed * 1e9:.0f} ns through the console capture")


if __name__ == "__main__":
    main()

"""Media benchmark: logging images with `run.log()` against encoding them with PIL alone.

The machine is shared and noisy, so the target is a ratio to a floor measured in the same
process, with repetitions interleaved (floor and runlake alternate, order flipped each time)
and the median taken. Absolute numbers are printed too.

Target:
  images    logging 1,000 RGB 100x100 uint8 images, one `run.log({"img": runlake.Image(a)})`
            per image, costs <= 1.3x encoding the same arrays to PNG with PIL directly
            (`PIL.Image.fromarray(a).save(BytesIO(), format="PNG")`, Pillow's defaults, which
            runlake uses too). Runlake is timed up to `run._flush()` returning: every file on
            disk and every row in the write-ahead log (finish() excluded). The arrays are
            random (so PNG cannot shrink them much: the honest, expensive case) and made
            before timing. The load average is printed: the ratio needs a free core for the
            thread that creates the files (docs/DESIGN.md, "Media").

Usage: python benchmarks/bench_media.py [--quick]. Store data goes to a temporary directory.
A missed target is printed as MISS; the script still exits 0.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL
from PIL import Image as PILImage

import runlake

SETTINGS = runlake.Settings(quiet=True)
TARGET = 1.3


def make_images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (100, 100, 3), dtype=np.uint8) for _ in range(n)]


def time_floor(images: list[np.ndarray]) -> float:
    """Seconds to encode every array to PNG with PIL, in memory."""
    gc.collect()
    t0 = time.perf_counter()
    total = 0
    for a in images:
        buf = io.BytesIO()
        PILImage.fromarray(a).save(buf, format="PNG")
        total += buf.tell()
    elapsed = time.perf_counter() - t0
    assert total > 0
    return elapsed


def time_runlake(images: list[np.ndarray]) -> tuple[float, float, int]:
    """(loop seconds, _flush() seconds, bytes of media written) of logging every image."""
    with tempfile.TemporaryDirectory(prefix="runlake-bench-") as tmp:
        run = runlake.init(project="bench", settings=SETTINGS.replace(root=tmp))
        gc.collect()
        log, Image = run.log, runlake.Image  # noqa: N806 - the class
        t0 = time.perf_counter()
        for a in images:
            log({"img": Image(a)})
        t1 = time.perf_counter()
        ok = run._flush()
        t2 = time.perf_counter()
        files = list((Path(run.dir) / "media" / "images").iterdir())
        assert ok and run.step == len(images) and len(files) == len(images)
        size = sum(f.stat().st_size for f in files)
        run.finish()
    return t1 - t0, t2 - t1, size


def bench_images(n: int, reps: int) -> dict[str, object]:
    images = make_images(n)
    time_floor(images[:50])  # warm-up (imports, allocator), untimed
    time_runlake(images[:50])
    floors, loops, flushes, totals = [], [], [], []
    size = 0
    for rep in range(reps):
        order = ("floor", "runlake") if rep % 2 else ("runlake", "floor")
        for what in order:
            if what == "floor":
                floors.append(time_floor(images))
            else:
                loop, flush, size = time_runlake(images)
                loops.append(loop)
                flushes.append(flush)
                totals.append(loop + flush)
    floor, total = statistics.median(floors), statistics.median(totals)
    return {
        "name": f"log {n:,} RGB 100x100 images",
        "floor": floor / n, "runlake": total / n, "ratio": total / floor,
        "detail": (
            f"runlake loop {statistics.median(loops) / n * 1e3:.2f} ms/image + _flush() "
            f"{statistics.median(flushes) * 1e3:.0f} ms (median); {size / 1e6:.1f} MB of PNG "
            "written; runlake/floor per rep: "
            + ", ".join(f"{t / f:.2f}" for t, f in zip(totals, floors))
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    q = parser.parse_args().quick
    load = os.getloadavg()[0]  # the ratio depends on a free core for the media-file thread
    print(f"runlake bench_media ({'quick' if q else 'full'}), Python {sys.version.split()[0]}, "
          f"Pillow {PIL.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {load:.1f}")
    t0 = time.perf_counter()
    r = bench_images(300 if q else 1000, 3 if q else 5)
    print(f"  images: measured in {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    print(f"{'benchmark':<32} {'floor':>11} {'runlake':>11} {'ratio':>7} {'target':>8}  result")
    print("-" * 82)
    ok = r["ratio"] <= TARGET
    print(f"{r['name']:<32} {r['floor'] * 1e3:8.3f} ms {r['runlake'] * 1e3:8.3f} ms "
          f"{r['ratio']:6.2f}x {'<= 1.3x':>8}  {'PASS' if ok else 'MISS'}")
    print()
    print(f"* {r['name']}: {r['detail']}")


if __name__ == "__main__":
    main()

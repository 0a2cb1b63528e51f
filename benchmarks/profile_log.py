"""Where the time (and memory) of `run.log()` with a 10-float-key dict goes, and what changes save.

1. Per-step budget: the floor, the logging loop with the writer idle, and each writer stage
   (Arrow conversion, WAL frame, summary fold) timed alone on the same rows.
2. The hot path (`Run.log` -> `HistoryBuffer.append_like_last`) statement by statement.
3. cProfile of the logging thread.
4. The writer thread during a tight logging loop: its cycles, and what `_flush()` waits for.
5. Prototypes of the suggested changes, monkeypatched in this process only (the repository is
   not changed), measured end to end against the floor like bench_log.py, and for memory.

Usage: python benchmarks/profile_log.py [--quick]. Store data go to temporary directories.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import threading
import time
import timeit
import zlib

import pyarrow as pa

import runlake
import runlake.engine.buffer as buffer_mod
import runlake.engine.wal as wal_mod
from runlake.engine.convert import RunSchema, chunks_to_table
from runlake.engine.writer import RunWriter, chunks_to_table as writer_convert
from runlake.tracking.run import Run

import bench_log
from bench_log import make_dicts, time_floor

IDLE = runlake.Settings(quiet=True, flush_interval=3600, wal_interval=3600)


# -- 5. prototypes of the suggested changes ---------------------------------------------------

def flush_rearmed(self: RunWriter, timeout: float | None = None) -> bool:
    """RunWriter.flush, re-requesting the WAL append on every wait: a WAL append that was
    already running when flush() was called clears `_flush_wanted`, and the flush then waits
    for the next `wal_interval` (0.5 s) instead of the next cycle (0.05 s)."""
    target = self.buffer.rows_logged
    deadline = None if timeout is None else time.monotonic() + timeout
    with self._cond:
        while self.rows_durable < target:
            if self.error is not None or not self._thread.is_alive():
                break
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                break
            self._flush_wanted = True
            self._wake.set()
            self._cond.wait(left)
        return self.rows_durable >= target


def wal_append_no_copies(self: wal_mod.WalWriter, table: pa.Table) -> None:
    """WalWriter.append writing the IPC buffer as it is (encode_frame copies the payload twice:
    `to_pybytes()` and `header + payload`), so a frame costs 1x its size in memory, not 3x."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=None)
    payload = sink.getvalue()
    crc = zlib.crc32(payload)
    self._file.write(wal_mod._HEADER.pack(wal_mod.MAGIC, payload.size, crc, table.num_rows))
    self._file.write(payload)
    self.bytes += wal_mod._HEADER.size + payload.size
    self.rows += table.num_rows


BOUND_ROWS = 1 << 16
_orig = {"flush": RunWriter.flush, "cycle": RunWriter._cycle, "wal": wal_mod.WalWriter.append,
         "like_last": buffer_mod.HistoryBuffer.append_like_last, "log": Run.log,
         "_log": Run._log, "Chunk": buffer_mod.Chunk}


def _convert_lock(writer: RunWriter) -> threading.Lock:
    return writer.__dict__.setdefault("_proto_lock", threading.Lock())


def cycle_locked(self: RunWriter, final: bool) -> None:
    with _convert_lock(self):
        _orig["cycle"](self, final)


def convert_now(writer: RunWriter) -> None:
    """Convert the buffer to Arrow in the logging thread (the writer then only does I/O)."""
    with _convert_lock(writer):
        writer.drain()
        with writer._drain_lock:
            chunks, writer._taken = writer._taken, []
        if chunks:
            writer._pending.append(writer_convert(chunks, writer.schema, writer.start_time))


def like_last_bounded(self: buffer_mod.HistoryBuffer, data: object) -> bool:
    """append_like_last that refuses a row once the current chunk has BOUND_ROWS rows."""
    cur = self._cur
    if cur is not None and len(cur.steps) >= BOUND_ROWS:
        return False
    return _orig["like_last"](self, data)


def _log_bounded(self: Run, data: object, step: object, commit: bool | None) -> None:
    """Run._log that converts a full buffer itself: a thread logging in a tight loop holds the
    GIL, the writer thread then runs about once per switch interval per GIL release, falls
    behind, and the Python buffer (~150 B a row) grows without bound."""
    _orig["_log"](self, data, step, commit)
    cur = self._buffer._cur
    if self._writer is not None and cur is not None and len(cur.steps) >= BOUND_ROWS:
        convert_now(self._writer)


class LeanChunk(buffer_mod.Chunk):
    __slots__ = ("type_list",)

    def __init__(self, keys: tuple[str, ...], types: tuple[type, ...]) -> None:
        super().__init__(keys, types)
        self.type_list = list(types)


def log_lean(self: Run, data: object, step: object = None, commit: object = None,
             sync: object = None) -> None:
    """Run.log with the fast path inlined, taking the same locks as Run.log does now (the
    run's log lock, then the buffer's): one call fewer, acquire()/release() in try/finally
    instead of `with`, and the value types compared as a list (`[*map(type, ...)]`)."""
    if step is None and commit is None:
        log_lock = self._log_lock
        log_lock.acquire()
        try:
            buf = self._buffer
            lock = buf._lock
            lock.acquire()
            try:
                cur = buf._cur
                if (cur is not None and type(data) is dict and tuple(data) == cur.keys
                        and [*map(type, data.values())] == cur.type_list):
                    cur.values.extend(data.values())
                    cur.steps.append(buf.step)
                    cur.times.append(buffer_mod._now())
                    buf.step += 1
                    buf.rows_logged += 1
                    return
            finally:
                lock.release()
        finally:
            log_lock.release()
    self._log(data, step, commit)


def use(patches: set[str]) -> None:
    """Install exactly the named prototypes (flush, wal, bound, lean) over the originals."""
    RunWriter.flush = flush_rearmed if "flush" in patches else _orig["flush"]
    wal_mod.WalWriter.append = wal_append_no_copies if "wal" in patches else _orig["wal"]
    bound = "bound" in patches
    RunWriter._cycle = cycle_locked if bound else _orig["cycle"]
    buffer_mod.HistoryBuffer.append_like_last = like_last_bounded if bound else _orig["like_last"]
    Run._log = _log_bounded if bound else _orig["_log"]
    lean = "lean" in patches
    buffer_mod.Chunk = LeanChunk if lean else _orig["Chunk"]
    Run.log = log_lean if lean else _orig["log"]


# -- 1-4. measurements --------------------------------------------------------------------------

def per_row(fn, rows: int, reps: int = 3) -> float:
    return min(timeit.repeat(fn, number=1, repeat=reps)) / rows * 1e9


def budget(dicts: list[dict[str, float]], n: int) -> None:
    floor = statistics.median(time_floor(dicts, n) for _ in range(3)) / n * 1e9
    with tempfile.TemporaryDirectory() as tmp:
        run = runlake.init(project="profile", settings=IDLE.replace(root=tmp))
        log = run.log
        m = len(dicts)
        t0 = time.perf_counter()
        for i in range(n):
            log(dicts[i % m])
        loop = (time.perf_counter() - t0) / n * 1e9
        chunks = run._buffer.take()
        table = chunks_to_table(chunks, RunSchema(), 0.0)
        rows = {
            "floor (defaultdict appends)": floor,
            "run.log() loop, writer idle": loop,
            "Arrow conversion (chunks_to_table)": per_row(lambda: chunks_to_table(chunks, RunSchema(), 0.0), n),
            "WAL frame (encode_frame)": per_row(lambda: wal_mod.encode_frame(table), n),
            "summary fold": per_row(lambda: run._summary.fold(chunks), n),
        }
        run.finish()
    print(f"\n1. Per-step budget, 10 float keys, {n:,} steps (each stage alone, no contention)")
    total = sum(v for k, v in rows.items() if not k.startswith("floor"))
    for name, ns in rows.items():
        print(f"   {name:<38}{ns:8.0f} ns{ns / floor:7.2f}x floor")
    print(f"   {'sum of runlake stages':<38}{total:8.0f} ns{total / floor:7.2f}x floor")


def hot_path(dicts: list[dict[str, float]]) -> None:
    d = dicts[0]
    keys, types = tuple(d), tuple(map(type, d.values()))
    env = {"d": d, "K": keys, "T": types, "TL": list(types), "lock": threading.Lock(),
           "rlock": threading.RLock(), "L": [], "S": [], "TM": [], "now": time.time, "step": 10**6}
    statements = [
        ("with self._lock: (enter + exit)", "with lock: pass"),
        ("type(data) is not dict", "type(d) is not dict"),
        ("tuple(data) != cur.keys", "tuple(d) != K"),
        ("tuple(map(type, values)) != cur.types", "tuple(map(type, d.values())) != T"),
        ("cur.values.extend(values)", "L.extend(d.values())"),
        ("cur.steps.append(step) (a new int)", "S.append(step + 1)"),
        ("cur.times.append(_now())", "TM.append(now())"),
        ("  alt: lock.acquire(); lock.release()", "lock.acquire(); lock.release()"),
        ("  Run.log: with self._log_lock (an RLock)", "with rlock: pass"),
        ("  alt: rlock.acquire(); rlock.release()", "rlock.acquire(); rlock.release()"),
        ("  alt: [*map(type, values)] != list", "[*map(type, d.values())] != TL"),
    ]
    print("\n2. Hot path, statement by statement (ns per call, best of 5)")
    total = 0.0
    for label, stmt in statements:
        for lst in ("L", "S", "TM"):
            env[lst].clear()
        ns = min(timeit.repeat(stmt, globals=env, number=200_000, repeat=5)) / 200_000 * 1e9
        total += ns if not label.startswith("  ") else 0
        print(f"   {label:<44}{ns:7.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        run = runlake.init(project="profile", settings=IDLE.replace(root=tmp))
        run.log(d)
        env.update(run=run, buf=run._buffer)
        for label, stmt in [("buf.append_like_last(d), measured", "buf.append_like_last(d)"),
                            ("run.log(d), measured", "run.log(d)")]:
            ns = min(timeit.repeat(stmt, globals=env, number=200_000, repeat=5)) / 200_000 * 1e9
            print(f"   {label:<44}{ns:7.0f}")
        run._buffer.take()
        run.finish()
    label = "sum of append_like_last's statements"
    print(f"   {label:<44}{total:7.0f}")


def profile(dicts: list[dict[str, float]], n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = runlake.init(project="profile", settings=IDLE.replace(root=tmp))
        log, m = run.log, len(dicts)
        prof = cProfile.Profile()
        prof.enable()
        for i in range(n):
            log(dicts[i % m])
        prof.disable()
        run._buffer.take()
        run.finish()
    stats = pstats.Stats(prof).stats
    top = sorted(stats.items(), key=lambda kv: -kv[1][2])[:8]
    total = sum(v[2] for v in stats.values())
    print(f"\n3. cProfile of the logging thread, {n:,} steps (tottime; cProfile inflates calls)")
    for (file, line, func), (_, ncalls, tottime, *_) in top:
        where = f"{file.rsplit('/', 1)[-1]}:{line}({func})" if line else func
        print(f"   {where:<58}{ncalls:>9,}{tottime:8.3f} s{tottime / total:6.0%}")


def writer_trace(dicts: list[dict[str, float]], n: int, reps: int) -> None:
    print(f"\n4. Writer thread during a tight loop of {n:,} steps, then _flush() (times in s)")
    trace: list[tuple[float, float, int, int]] = []

    def traced(self: RunWriter, final: bool) -> None:
        t0, d0, n0 = time.perf_counter(), self.rows_durable, self.buffer.rows_logged
        _orig["cycle"](self, final)
        trace.append((t0, time.perf_counter() - t0, n0, self.rows_durable - d0))

    RunWriter._cycle = traced
    try:
        for _ in range(reps):
            trace.clear()
            with tempfile.TemporaryDirectory() as tmp:
                run = runlake.init(project="profile", settings=bench_log.SETTINGS.replace(root=tmp))
                log, m = run.log, len(dicts)
                t0 = time.perf_counter()
                for i in range(n):
                    log(dicts[i % m])
                t1 = time.perf_counter()
                run._flush()
                t2 = time.perf_counter()
                during = [c for c in trace if c[0] < t1]
                idle = sum(1 for c in trace if c[0] >= t1 and c[3] == 0 and c[1] < 0.005)
                run.finish()
            if during:
                c = max(during, key=lambda c: c[1])
                seen = (f"{len(during)} writer cycles began during it, the longest took "
                        f"{c[1]:.2f} (began at {c[0] - t0:.2f}, {c[2]:,} rows logged, {c[3]:,} "
                        "made durable)")
            else:
                seen = "no writer cycle began during it"
            print(f"   loop {t1 - t0:.2f}: {seen}; _flush() {t2 - t1:.2f}, with {idle} idle "
                  f"cycles while it waited")
    finally:
        RunWriter._cycle = _orig["cycle"]


def prototypes(dicts: list[dict[str, float]], n: int, wide_n: int, reps: int, mem_n: int) -> None:
    print(f"\n5. Prototypes, end to end like bench_log.py ({n:,} steps, median of {reps}), "
          f"and peak RSS growth at {mem_n:,} steps")
    for label, patches in [("as is", set()), ("flush re-armed", {"flush"}),
                           ("flush re-armed + lean hot path", {"flush", "lean"}),
                           ("flush + copy-free WAL + bounded buffer", {"flush", "wal", "bound"})]:
        use(patches)
        r = bench_log.bench_log(10, n, reps, len(dicts))
        use(set())
        mem = bench_log.run_memory_child(mem_n, __file__, "--patches", ",".join(sorted(patches)))
        print(f"   {label:<40} floor {r['floor'] * 1e6:.2f} us, runlake {r['runlake'] * 1e6:.2f} us"
              f" = {r['ratio']:.2f}x; memory +{mem['growth'] / 1e6:.0f} MB (loop "
              f"{mem['loop']:.1f} s, finish {mem['finish']:.2f} s)")
        print(f"      {r['detail']}")
        if patches <= {"flush"}:
            use(patches)
            r = bench_log.bench_log(1000, wide_n, reps, 100)
            use(set())
            print(f"   {'  same, 1,000 keys':<40} floor {r['floor'] * 1e6:.1f} us, runlake "
                  f"{r['runlake'] * 1e6:.1f} us = {r['ratio']:.2f}x")
            print(f"      {r['detail']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--patches", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        use(set(filter(None, args.patches.split(","))))
        bench_log.memory_child(args.memory_child)
        return
    q = args.quick
    dicts = make_dicts(10, 1000)
    print(f"runlake profile_log ({'quick' if q else 'full'}), Python {sys.version.split()[0]}")
    budget(dicts, 50_000 if q else 300_000)
    hot_path(dicts)
    profile(dicts, 50_000 if q else 300_000)
    writer_trace(dicts, 50_000 if q else 300_000, 2 if q else 3)
    prototypes(dicts, 50_000 if q else 300_000, 500 if q else 3_000, 3 if q else 5,
               300_000 if q else 1_000_000)


if __name__ == "__main__":
    main()

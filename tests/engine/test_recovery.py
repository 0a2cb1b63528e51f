"""engine.recovery and the crash-safety rules it relies on (docs/DESIGN.md, "Crash recovery").

A dead run is made here as a killed writer leaves one: a RunWriter driven cycle by cycle
(`_cycle`) and then dropped without `close()`, so its WAL files, published segments and the
hidden segment it was streaming stay as they were; run.json says "running"; the lock file
exists and nobody holds it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from runlake.engine import lock, recovery, wal
from runlake.engine import writer as writer_module
from runlake.engine.buffer import HistoryBuffer
from runlake.errors import RunInUseError
from runlake.engine.layout import RunPaths
from runlake.engine.meta import RunMeta, read_json
from runlake.engine.writer import RunWriter, WriterOptions, compact_wal

import runlake
from tests.engine.util import segment_tables, stored_rows

HOST = socket.gethostname()
BEAT = "2030-01-01T00:00:00.000000Z"  # a heartbeat that is fresh whatever the clock says
OLD_BEAT = "2001-01-01T00:00:00.000000Z"


@pytest.fixture
def paths(root) -> RunPaths:
    return RunPaths.of(root, "e", "p", "r")


def write_meta(paths: RunPaths, state: str = "running", host: str = HOST,
               heartbeat: str = BEAT) -> None:
    RunMeta(paths.meta_file, {
        "id": paths.run_id, "entity": paths.entity, "project": paths.project, "state": state,
        "exit_code": None, "error": None, "finished_at": None, "heartbeat_at": heartbeat,
        "host": host, "pid": 1, "summary": {}, "config": {},
    }).update()


def dead_run(paths: RunPaths, rows: int, *, segment_every: int = 0, frame_rows: int = 40,
             keys=lambda i: {"loss": i / 2, "i": i}, lock_file: bool = True, **meta) -> RunWriter:
    """A run whose writer died after making `rows` steps durable (see the module docstring):
    a WAL frame per `frame_rows` rows, a segment published every `segment_every` frames (if
    set), and the last frames in a WAL file.

    Returns the writer so that its open, unpublished segment stays open, as a killed
    process's would until the kernel closed it.
    """
    if lock_file:
        lock.acquire(paths).release()
    write_meta(paths, **meta)
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(segment_bytes=1 << 40, wal_interval=0.0,
                                                 switch_interval=None))
    frames = 0
    for i in range(rows):
        row = keys(i)
        buf.append(tuple(row), row.values(), i)
        if i % frame_rows == frame_rows - 1 or i == rows - 1:
            w._cycle(final=False)
            frames += 1
            if segment_every and frames % segment_every == 0 and i < rows - 1:
                w._publish_segment()
    assert w.rows_durable == rows and wal_files(paths)
    return w


def all_rows(paths: RunPaths) -> list[tuple[int, dict]]:
    """Every durable row: segments, then WAL files without a segment (as readers take them)."""
    from runlake.query import history

    return stored_rows(history.read_table(paths))


def expected(n: int, keys=lambda i: {"loss": i / 2, "i": i}) -> list[tuple[int, dict]]:
    return [(i, keys(i)) for i in range(n)]


def wal_files(paths: RunPaths) -> list[str]:
    return sorted(p.name for p in paths.wal_dir.glob("*.arrows"))


def hidden(paths: RunPaths) -> list[str]:
    return [p.name for d in (paths.history_dir, paths.run_dir) if d.is_dir()
            for p in d.iterdir() if p.name.startswith(".")]


# -- the write-ahead log's torn tail ---------------------------------------------------------


def frames_file(tmp_path, n: int = 3):
    path = tmp_path / "000000.arrows"
    writer = wal.WalWriter(path)
    tables = [pa.table({"_step": pa.array(range(i * 5, i * 5 + 5), pa.int64()),
                        "x": pa.array([float(i)] * 5)}) for i in range(n)]
    ends = []
    for t in tables:
        writer.append(t)
        ends.append(writer.bytes)
    writer.close()
    return path, tables, ends


def test_a_torn_last_frame_is_cut_off_at_every_byte(tmp_path):
    path, tables, ends = frames_file(tmp_path)
    whole = path.read_bytes()
    for cut in range(ends[1], ends[2]):  # the last frame, torn anywhere (none of it whole)
        path.write_bytes(whole[:cut])
        assert [t.equals(want) for t, want in zip(wal.read_frames(path), tables)] == [True, True]
        assert len(list(wal.read_frames(path))) == 2
        assert wal.valid_length(path) == ends[1]
    path.write_bytes(whole + b"RLW1\x00garbage")  # a header whose payload never came
    assert len(list(wal.read_frames(path))) == 3
    assert wal.truncate_torn_tail(path) == len(b"RLW1\x00garbage")
    assert path.read_bytes() == whole


def test_a_corrupt_frame_ends_the_read(tmp_path):
    path, _, ends = frames_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[ends[0] + 20] ^= 0xFF  # a payload byte of the second frame: its CRC no longer matches
    path.write_bytes(bytes(data))
    assert [t.num_rows for t in wal.read_frames(path)] == [5]


def test_recovery_compacts_a_torn_wal_and_marks_the_run_crashed(paths):
    w = dead_run(paths, 100)  # one WAL file, no segment published yet
    [name] = wal_files(paths)
    assert any(n.startswith(".tmp-") for n in hidden(paths))  # the segment it was streaming
    with open(paths.wal_dir / name, "ab") as f:  # the writer died in the middle of a frame
        header, payload = wal.encode_frame(pa.table({"_step": pa.array([100], pa.int64())}))
        f.write(header + payload.to_pybytes()[:7])

    before = read_json(paths.meta_file)
    assert recovery.recover_run(paths) is True
    assert all_rows(paths) == expected(100)  # the torn frame's row was never durable
    assert wal_files(paths) == [] and hidden(paths) == []
    assert [p.name for p in paths.history_dir.iterdir()] == ["part-000000.parquet"]
    after = read_json(paths.meta_file)
    assert after["state"] == "crashed"
    assert after["exit_code"] is None and after["finished_at"] is None
    assert after["error"] == recovery.DIED_UNRECORDED  # never an empty error
    assert {k: v for k, v in after.items() if k not in ("state", "error")} == {
        k: v for k, v in before.items() if k not in ("state", "error")}  # heartbeat_at and the rest kept
    assert not lock.is_live(paths)  # released
    del w


def test_a_half_written_segment_is_never_read_and_is_removed(paths):
    w = dead_run(paths, 300)
    tmp = [n for n in hidden(paths) if n.endswith(".parquet")]
    assert tmp  # the streamed segment, under its hidden name
    rows = all_rows(paths)
    assert rows == expected(300)  # readers skip it: the WAL file holds those rows
    assert recovery.recover_run(paths)
    assert all_rows(paths) == rows and hidden(paths) == []
    del w


# -- only a dead owner's run -------------------------------------------------------------------

_HOLD = """
import sys, time
from runlake.engine import lock
from runlake.engine.layout import RunPaths
held = lock.acquire(RunPaths.of(sys.argv[1], "e", "p", "r"))
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_recovery_only_when_the_owner_is_dead(paths):
    w = dead_run(paths, 200, segment_every=2)
    files = sorted(p.name for p in paths.history_dir.iterdir()), wal_files(paths)

    owner = lock.acquire(paths)  # a live owner in this process
    assert recovery.recover_run(paths) is False
    assert not recovery.owner_dead(paths, HOST, None)
    owner.release()

    child = subprocess.Popen([sys.executable, "-c", _HOLD, str(paths.root)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"  # a live owner in another process
        assert recovery.recover_run(paths) is False
        assert recovery.recover_store(paths.root) == []
        assert read_json(paths.meta_file)["state"] == "running"
        assert (sorted(p.name for p in paths.history_dir.iterdir()), wal_files(paths)) == files
        with pytest.raises(RunInUseError):  # ...and recovery did not take its lock from it
            lock.acquire(paths)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()

    assert recovery.owner_dead(paths, HOST, None)
    assert recovery.recover_store(paths.root) == [paths]
    assert all_rows(paths) == expected(200) and wal_files(paths) == []
    del w


@pytest.mark.parametrize("case", ["other host", "no lock file"])
def test_a_run_without_a_lock_to_test_goes_by_its_heartbeat(paths, case):
    """A run logged on another host (its lock is not this kernel's), or by a runlake from
    before run locks, is dead once its heartbeat is older than STALE_AFTER."""
    host = "elsewhere.example" if case == "other host" else HOST
    w = dead_run(paths, 100, host=host, lock_file=case == "other host")
    assert not recovery.owner_dead(paths, host, time.time())
    assert recovery.recover_run(paths) is False  # a fresh heartbeat: maybe live
    assert runlake.Api(paths.root).run("e/p/r").state == "running"
    assert wal_files(paths)

    stale = time.time() - recovery.STALE_AFTER - 1
    assert recovery.owner_dead(paths, host, stale)
    write_meta(paths, host=host, heartbeat=OLD_BEAT)
    assert runlake.Api(paths.root, recover=False).run("e/p/r").state == "crashed"
    assert recovery.recover_run(paths) is True
    assert read_json(paths.meta_file)["state"] == "crashed"
    assert all_rows(paths) == expected(100) and wal_files(paths) == []
    del w


def test_the_staleness_threshold_is_a_reader_setting(paths, monkeypatch):
    host = "elsewhere.example"
    w = dead_run(paths, 10, host=host, lock_file=True)
    beat = time.time() - 60
    assert not recovery.owner_dead(paths, host, beat)  # 60 s < the 300 s default
    monkeypatch.setenv(recovery.STALE_ENV, "30")
    assert recovery.owner_dead(paths, host, beat)
    monkeypatch.setenv(recovery.STALE_ENV, "soon")
    with pytest.raises(ValueError, match="RUNLAKE_HEARTBEAT_STALE must be a positive number"):
        recovery.owner_dead(paths, host, beat)
    del w


@pytest.mark.parametrize("state", ["preempting", "finished", "failed"])
def test_recovery_compacts_runs_in_other_states_and_keeps_the_state(paths, state):
    """A preempted run that died stays "preempting" (resumable, as a wandb sweep reads it);
    a finished one may have WAL files left by a write that failed at finish."""
    w = dead_run(paths, 120, state=state)
    assert recovery.recover_run(paths) is True
    assert read_json(paths.meta_file)["state"] == state
    assert all_rows(paths) == expected(120) and wal_files(paths) == []
    assert runlake.Api(paths.root).run("e/p/r").state == state
    del w


def test_nothing_to_recover(paths, root):
    assert recovery.recover_run(paths) is False  # no run at all
    paths.run_dir.mkdir(parents=True)
    assert recovery.recover_run(paths) is False  # a run being created: no run.json yet
    write_meta(paths, state="finished")
    assert recovery.recover_run(paths) is False  # finished, nothing left over
    assert not paths.lock_file.exists()  # ...and not touched
    assert recovery.recover_store(root) == []
    assert recovery.recover_store(root / "no-such-store") == []


# -- idempotent, and safe with two recoverers --------------------------------------------------


def test_recovery_is_idempotent_and_finishes_a_killed_recovery(paths):
    w = dead_run(paths, 500, segment_every=3)
    wals = sorted(paths.wal_dir.glob("*.arrows"))
    assert len(wals) >= 1
    # A recoverer killed between writing a segment and deleting its WAL file, and another
    # killed while writing a segment (its hidden file left behind).
    last = wals[-1]
    compact_wal(last, paths.segment_file(int(last.stem)))
    (paths.history_dir / ".tmp-dead-part-000099.parquet").write_bytes(b"PAR1 half")
    assert all_rows(paths) == expected(500)  # the redundant WAL file is not read twice

    assert recovery.recover_run(paths) is True
    rows = all_rows(paths)
    assert rows == expected(500) and wal_files(paths) == [] and hidden(paths) == []
    state = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in paths.history_dir.iterdir()}
    assert recovery.recover_run(paths) is False
    assert recovery.recover_store(paths.root) == []
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes())
            for p in paths.history_dir.iterdir()} == state
    assert all_rows(paths) == rows
    del w


_RECOVER = """
import sys
from runlake.engine.layout import RunPaths
from runlake.engine.recovery import recover_run
paths = RunPaths.of(sys.argv[1], "e", "p", "r")
print("ready", flush=True)
sys.stdin.readline()
print(recover_run(paths), flush=True)
"""


@pytest.mark.slow
def test_two_recoverers_at_once_in_two_processes(paths):
    w = dead_run(paths, 20_000, segment_every=10, frame_rows=500)
    assert len(wal_files(paths)) >= 1 and segment_tables(paths)
    procs = [subprocess.Popen([sys.executable, "-c", _RECOVER, str(paths.root)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]
        for p in procs:  # both go at once
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    # One took the run; the other found it taken, or found nothing left to do.
    assert sorted(out.strip() for out, _ in outs) == ["False", "True"]
    assert all_rows(paths) == expected(20_000)  # no row lost, none twice
    assert wal_files(paths) == [] and hidden(paths) == []
    assert read_json(paths.meta_file)["state"] == "crashed"
    del w


def test_recovery_gives_segments_the_final_types_as_finish_does(paths):
    def keys(i):  # `x` is an int until step 150, then a float: the column widens
        return {"x": i if i < 150 else i + 0.5, "flag": i % 2 == 0}

    w = dead_run(paths, 300, keys=keys, segment_every=2)
    types = {pq.read_schema(p).field("x").type for p in paths.history_dir.glob("part-*")}
    assert pa.int64() in types  # segments published before the widening
    assert recovery.recover_run(paths)
    segments = sorted(paths.history_dir.glob("part-*"))
    assert {pq.read_schema(p).field("x").type for p in segments} == {pa.float64()}
    assert [(s, {k: float(v) if k == "x" else v for k, v in r.items()})
            for s, r in all_rows(paths)] == expected(300, lambda i: {"x": float(keys(i)["x"]),
                                                                      "flag": i % 2 == 0})
    del w


# -- the loss window ---------------------------------------------------------------------------


def test_the_writer_appends_to_the_wal_at_least_every_wal_interval(paths, monkeypatch):
    """`wal_interval` bounds how long a converted row waits for the WAL (driven with a fake
    clock, cycle by cycle: no real time is measured)."""
    now = [1000.0]
    monkeypatch.setattr(writer_module.time, "time", lambda: now[0])
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(wal_interval=0.5, switch_interval=None))

    def log_and_cycle(step: int, at: float) -> int:
        now[0] = at
        buf.append(("x",), (float(step),), step)
        w._cycle(final=False)
        return w.rows_durable

    assert log_and_cycle(0, 1000.0) == 1  # the first rows go at once
    assert log_and_cycle(1, 1000.2) == 1  # then they wait for the interval...
    assert log_and_cycle(2, 1000.49) == 1
    assert log_and_cycle(3, 1000.5) == 4  # ...never longer
    assert log_and_cycle(4, 1000.9) == 4
    now[0] = 1001.0
    w._cycle(final=False)  # a cycle with nothing new logged still writes what waits
    assert w.rows_durable == 5
    w.close()


def test_fsync_makes_segments_and_their_rename_durable(paths, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    w = dead_run(paths, 50)
    synced.clear()
    assert recovery.recover_run(paths)  # recovery always fsyncs: it deletes the WAL next
    assert len(synced) >= 2  # the segment file, and the folder holding its new name
    del w


# -- the read side meets dead runs -------------------------------------------------------------


def test_the_api_recovers_dead_runs_it_reads(paths):
    w = dead_run(paths, 150, segment_every=2)
    api = runlake.Api(paths.root, recover=False)
    assert api.run("e/p/r").state == "crashed"  # read, not written: the lock is free
    assert [r.id for r in api.runs("e/p", filters={"state": "crashed"})] == ["r"]
    assert api.sql("SELECT count(*) FROM history").fetchall() == [(150,)]
    assert wal_files(paths) and read_json(paths.meta_file)["state"] == "running"

    api = runlake.Api(paths.root)
    assert api.sql("SELECT count(*), count(DISTINCT _step) FROM history").fetchall() == [
        (150, 150)]
    assert wal_files(paths) == [] and read_json(paths.meta_file)["state"] == "crashed"
    assert api.sql("SELECT state FROM runs").fetchall() == [("crashed",)]
    del w


def test_the_api_reads_a_dead_run_it_cannot_recover(paths, monkeypatch):
    w = dead_run(paths, 150, segment_every=2)

    def read_only(_):
        raise PermissionError(13, "Read-only store")

    monkeypatch.setattr(recovery, "recover_run", read_only)
    api = runlake.Api(paths.root)
    run = api.run("e/p/r")
    assert run.state == "crashed"
    assert [r["_step"] for r in run.scan_history()] == list(range(150))
    assert api.history("e/p").collect().height == 150
    del w


def test_the_next_writer_of_a_project_recovers_its_dead_runs(root):
    paths = RunPaths.of(root, "local", "p", "dead")
    w = dead_run(paths, 100)
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log({"a": 1.0})
    for thread in threading.enumerate():
        if thread.name == "runlake-recover":
            thread.join()
    assert wal_files(paths) == [] and read_json(paths.meta_file)["state"] == "crashed"
    assert all_rows(paths) == expected(100)
    del w


def test_recover_store_of_one_project(root):
    other = RunPaths.of(root, "e", "q", "s")
    w1 = dead_run(RunPaths.of(root, "e", "p", "r"), 40)
    w2 = dead_run(other, 40)
    assert recovery.recover_store(root, project="q") == [other]
    assert recovery.recover_store(root) == [RunPaths.of(root, "e", "p", "r")]
    del w1, w2


"""Reading a run while another process is still logging it, and after that process was killed.

The writer is a real training-style process; the reader is `runlake.Api` in the test process.
No assertion here is about time: waits poll with a generous deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq
import pytest
from runlake.engine.layout import RunPaths
from runlake.query import history as h

import runlake
from tests import helpers

T = TypeVar("T")
DEADLINE = 120.0  # seconds any one wait may take before the test fails (never reached when well)
SMALL_SEGMENTS = 32 * 1024  # a segment every ~1000 rows: compactions happen while we read

# Logs steps 0, 1, 2, ... (loss = step / 2, i = step) until a line or EOF arrives on stdin,
# then finishes the run and prints the number of steps logged.
WRITER = """
    import sys, threading, time
    import runlake

    segment_bytes = int(sys.argv[1])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    settings = runlake.Settings(wal_interval=0.01, segment_bytes=segment_bytes)
    with runlake.init(project="p", config={"lr": 0.5}, tags=["live"], settings=settings) as run:
        print(run.id, flush=True)
        step = 0
        while not stop.is_set():
            run.log({"loss": step / 2, "i": step})
            step += 1
            if step % 5 == 0:
                time.sleep(0.001)  # a training step takes a while
    print(step, flush=True)
"""


class Writer:
    """The logging process: started with a store and a segment size, stopped by `finish()`."""

    def __init__(self, tmp_path: Path, store: Path, segment_bytes: int) -> None:
        script = tmp_path / "train_live.py"
        script.write_text(textwrap.dedent(WRITER), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
        env["RUNLAKE_DIR"] = str(store)
        env["HOME"] = str(tmp_path / "home")
        self.stderr_path = tmp_path / "train_live.stderr"
        self._stderr = open(self.stderr_path, "w", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(segment_bytes)], cwd=tmp_path, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
        )
        self.run_id = self.proc.stdout.readline().strip()
        assert self.run_id, f"the writer died before init: {self.stderr()}"
        self.path = f"p/{self.run_id}"

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(encoding="utf-8")

    def finish(self) -> int:
        """Tell it to stop; returns the number of steps it logged (it must exit 0)."""
        self.proc.stdin.write("stop\n")
        self.proc.stdin.close()
        out = self.proc.stdout.read()  # to EOF: the writer has finished the run and exited
        self.proc.wait(timeout=DEADLINE)
        assert self.proc.returncode == 0, self.stderr()
        return int(out.split()[-1])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=DEADLINE)
        assert self.proc.returncode == -signal.SIGKILL

    def close(self) -> None:
        if self.proc.poll() is None:  # a failed test: never leave the writer behind
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None and not f.closed:
                f.close()
        self._stderr.close()


@pytest.fixture
def start_writer(tmp_path, root):
    started: list[Writer] = []

    def start(segment_bytes: int = runlake.Settings.segment_bytes) -> Writer:
        writer = Writer(tmp_path, root, segment_bytes)
        started.append(writer)
        return writer

    yield start
    for writer in started:
        writer.close()


def wait_for(what: str, probe: Callable[[], T]) -> T:
    return helpers.wait_for(what, probe, DEADLINE, 0.02)


def check_prefix(rows: list[dict[str, Any]]) -> int:
    """`rows` are steps 0..k-1 in order, none missing or repeated, with the logged values."""
    assert [r["_step"] for r in rows] == list(range(len(rows)))
    assert all(r["loss"] == r["_step"] / 2 and r["i"] == r["_step"] for r in rows)
    return len(rows)


def scanned(api: runlake.Api, path: str) -> int:
    return check_prefix(list(api.run(path).scan_history(page_size=500)))


def sql_count(api: runlake.Api, run_id: str) -> int:
    n, lo, hi, distinct, bad = api.sql(
        "SELECT count(*), min(_step), max(_step), count(DISTINCT _step),"
        " count(*) FILTER (WHERE loss != _step / 2 OR i != _step) FROM history WHERE run_id = ?",
        [run_id],
    ).fetchall()[0]
    if n:
        assert (lo, hi, distinct, bad) == (0, n - 1, n, 0)
    return n


# -- a live run ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("segment_bytes", [runlake.Settings.segment_bytes, SMALL_SEGMENTS],
                         ids=["wal-only", "segments-and-wal"])
def test_reading_a_run_while_another_process_logs_it(root, start_writer, segment_bytes):
    writer = start_writer(segment_bytes)
    api = runlake.Api(root=root)
    run = api.run(writer.path)
    assert run.state == "running" and run.exit_code is None
    assert run.config == {"lr": 0.5} and run.tags == ["live"]
    assert [r.id for r in api.runs("p", filters={"state": "running"})] == [writer.run_id]

    # Durable rows show up, always as a gapless prefix of the steps with the logged values.
    first = wait_for("the first durable rows", lambda: scanned(api, writer.path))
    frame = api.run(writer.path).history(samples=None, format="polars")
    assert frame["_step"].to_list() == list(range(frame.height))
    assert frame["loss"].to_list() == [s / 2 for s in range(frame.height)]
    assert frame["i"].to_list() == list(range(frame.height))
    assert frame.height >= first
    # ... and more of them at a later read: the writer keeps going while we read.
    wait_for("the history to grow", lambda: scanned(api, writer.path) > frame.height)

    # Every way of reading sees the rows, and never fewer than an earlier read of the same
    # kind (with small segments, WAL files are compacted into segments meanwhile).
    last = {"scan": 0, "sql": 0, "polars": 0}
    for _ in range(10):
        counts = {"scan": scanned(api, writer.path), "sql": sql_count(api, writer.run_id)}
        lazy = api.history("p").collect()
        assert set(lazy["run_id"].to_list()) == {writer.run_id}
        counts["polars"] = check_prefix(lazy.sort("_step").to_dicts())
        assert all(counts[k] >= last[k] for k in counts), (counts, last)
        last = counts
        assert min(counts.values()) > 0
    wait_for("SQL to see more rows", lambda: sql_count(api, writer.run_id) > last["sql"])
    state = api.sql("SELECT state FROM runs WHERE id = ?", [writer.run_id]).fetchall()
    assert state == [("running",)]

    # A live run is not edited or deleted from under its writer.
    live = api.run(writer.path)
    live.tags.append("edited")
    with pytest.raises(runlake.Error, match="still being logged"):
        live.update()
    with pytest.raises(runlake.Error, match="still being logged"):
        live.delete()
    assert api.run(writer.path).tags == ["live"]
    assert writer.proc.poll() is None  # still logging, undisturbed

    steps = writer.finish()
    assert steps > last["scan"]
    assert "Traceback" not in writer.stderr() and "Warning" not in writer.stderr()
    done = api.run(writer.path)
    assert done.state == "finished" and done.exit_code == 0
    assert scanned(api, writer.path) == steps  # every step exactly once
    assert sql_count(api, writer.run_id) == steps
    assert api.history("p").select("_step").collect().height == steps
    assert done.summary["loss"] == (steps - 1) / 2 and done.summary["i"] == steps - 1
    assert not list(root.glob("runs/*/*/*/wal/*.arrows"))  # all compacted
    done.tags.append("edited")
    done.update()  # a finished run can be edited now
    assert api.run(writer.path).tags == ["live", "edited"]


@pytest.mark.slow
@pytest.mark.parametrize("segment_bytes", [runlake.Settings.segment_bytes, SMALL_SEGMENTS],
                         ids=["wal-only", "segments-and-wal"])
def test_rows_of_a_killed_writer_stay_readable(root, start_writer, segment_bytes):
    writer = start_writer(segment_bytes)
    api = runlake.Api(root=root)
    paths = RunPaths.of(root, "local", "p", writer.run_id)
    kinds = {"wal"} if segment_bytes > SMALL_SEGMENTS else {"segment", "wal"}
    wait_for(f"history in {kinds}", lambda: {s.kind for s in h.sources(paths)} == kinds)
    seen = wait_for("500 durable rows", lambda: (n := scanned(api, writer.path)) >= 500 and n)
    writer.kill()
    left = {s.kind for s in h.sources(paths)}
    if segment_bytes > SMALL_SEGMENTS:
        assert left == {"wal"}
    else:  # (killed right after publishing a segment, the run has no WAL until its next frame)
        assert "segment" in left

    # A killed writer never rewrites its run.json, which still says "running"; its lock is
    # free, so a reader reports it "crashed" (docs/FORMAT.md, "Run states").
    untouched = runlake.Api(root=root, recover=False)
    assert untouched.run(writer.path).state == "crashed"
    assert {s.kind for s in h.sources(paths)} == left  # ...and that reader wrote nothing
    n = scanned(untouched, writer.path)  # segments and WAL, a torn last frame skipped
    # A reader that may write recovers the run: WAL compacted, run.json says "crashed".
    run = api.run(writer.path)
    assert run.state == "crashed" and run.exit_code is None
    assert {s.kind for s in h.sources(paths)} == {"segment"}
    # Every row durable before the kill is still there, once each: a gapless prefix with the
    # logged values, the same before and after recovery.
    assert scanned(api, writer.path) == n
    assert n >= seen
    frame = run.history(samples=None, format="polars")
    assert frame.height == n and frame["i"].to_list() == list(range(n))
    assert sql_count(api, writer.run_id) == n
    assert api.history("p").collect().height == n
    dest = api.export(writer.path, root.parent / "killed.parquet")
    exported = pq.read_table(dest)
    assert exported.num_rows == n and exported.column("_step").to_pylist() == list(range(n))


# -- a compaction between a reader's two listings ---------------------------------------------


def test_a_wal_compacted_after_the_segment_listing_is_still_read(root, monkeypatch):
    """A reader lists the store's segments, then reads live runs' WAL files. If the writer
    compacts a WAL into its segment in between, those rows are in neither listing unless the
    WAL reader picks up the new segment: here that interleaving is made deterministic."""
    run = runlake.init(project="p", settings=runlake.Settings(root=root, wal_interval=60))
    for i in range(50):
        run.log({"loss": i / 2, "i": i})
    assert run._flush()
    paths = RunPaths.of(root, "local", "p", run.id)
    assert [s.kind for s in h.sources(paths)] == ["wal"]
    api = runlake.Api(root=root)
    stale = api._segments.snapshot()  # the listing: no segment yet, the run has a WAL
    assert stale.live == (("local", "p", run.id),) and stale.files() == []

    run.log({"loss": 25.0, "i": 50, "val": 1.0})  # a new key: the writer publishes segment 0
    assert run._flush()
    assert [s.kind for s in h.sources(paths)] == ["segment", "wal"]

    monkeypatch.setattr(api._segments, "snapshot", lambda: stale)
    lazy = api.history("p").collect().sort("_step")
    assert check_prefix(lazy.to_dicts()) == 51
    assert lazy["val"].to_list() == [None] * 50 + [1.0]
    assert sql_count(api, run.id) == 51
    run.finish()

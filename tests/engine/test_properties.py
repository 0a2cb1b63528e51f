"""Property tests of the storage invariants: whatever rows are logged, in whatever shapes and
kinds, buffering + the writer + compaction read back exactly those rows, in step order."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runlake.engine import wal
from runlake.engine.buffer import HistoryBuffer
from runlake.engine.kinds import FloatList, IntList, StrList
from runlake.engine.layout import RunPaths
from runlake.engine.writer import RunWriter, WriterOptions

from tests.engine.util import (
    ARROW,
    BASE,
    CycleCounter,
    durable_rows,
    expected_store,
    history,
    ipc_bytes,
    norm_rows,
    same_rows,
    segment_tables,
    stored_rows,
)

pytestmark = pytest.mark.slow  # Hypothesis drives whole runs through the writer

KEYS = ("a", "b", "c", "d")

scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(2**63, 2**80) | st.integers(-(2**80), -(2**63) - 1),  # beyond int64
    st.booleans(),
    st.text(max_size=6),
    st.none(),
)
numpy_scalars = st.one_of(
    st.floats(width=32).map(np.float32),
    st.floats(width=16).map(np.float16),
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.booleans().map(np.bool_),
    st.text(max_size=3).map(np.str_),
)
lists = st.one_of(
    st.lists(st.integers(-(2**63), 2**63 - 1) | st.none(), max_size=3).map(IntList),
    st.lists(st.floats() | st.none(), max_size=3).map(FloatList),
    st.lists(st.text(max_size=3) | st.none(), max_size=3).map(StrList),
)
values = scalars | numpy_scalars | lists
rows = st.dictionaries(st.sampled_from(KEYS), values, max_size=len(KEYS))

# an action: a row (with an optional step jump), or a point where the test flushes or waits
actions = st.lists(
    st.one_of(
        st.tuples(st.just("row"), rows, st.sampled_from([0, 0, 0, 1, 5])),
        st.tuples(st.just("again"), st.booleans()),  # the last row's shape, fast path
        st.just(("flush",)),
        st.just(("cycle",)),
    ),
    max_size=40,
)


def same_shape_row(last: dict, flip: bool) -> dict:
    """A row of the same keys and value types as `last`, with other values where easy."""
    out = {}
    for k, v in last.items():
        if isinstance(v, bool):
            out[k] = (not v) if flip else v
        elif isinstance(v, (int, float)):
            out[k] = v * -1 if flip else v
        else:
            out[k] = v
    return out


def run_actions(root: Path, script, options: WriterOptions, check_durable: bool):
    paths = RunPaths.of(root, "e", "p", "r")
    buf = HistoryBuffer()
    cycles = CycleCounter()
    writer = RunWriter(paths, buf, 0.0, options, on_cycle=cycles)
    writer.start()
    logged: list[tuple[int, dict]] = []
    last: dict | None = None
    try:
        for action in script:
            if action[0] == "row":
                _, row, jump = action
                if jump == 0 and buf.append_like_last(row):
                    logged.append((buf.step - 1, row))
                else:
                    step = buf.step + jump
                    buf.append(tuple(row), row.values(), step)
                    logged.append((step, row))
                last = row
            elif action[0] == "again" and last is not None:
                row = same_shape_row(last, action[1])
                if not buf.append_like_last(row):
                    buf.append(tuple(row), row.values(), buf.step)
                logged.append((buf.step - 1, row))
            elif action[0] == "flush":
                assert writer.flush()
                if check_durable:
                    # the writer is idle until the next flush: segments + WAL = all rows so far,
                    # and reading the WAL again gives the same frames
                    # (types may still widen later: compare loosely, column by column)
                    seen = durable_rows(paths)
                    assert norm_rows(seen) == norm_rows(expected_store(logged)[1])
                    for f in sorted(paths.wal_dir.glob("*.arrows")):
                        once = [ipc_bytes(t) for t in wal.read_frames(f)]
                        assert wal.truncate_torn_tail(f) == 0
                        assert [ipc_bytes(t) for t in wal.read_frames(f)] == once
            elif action[0] == "cycle":
                cycles.wait_for_fresh_cycle(writer)
    finally:
        writer.close()
    return paths, writer, logged


def check_store(paths: RunPaths, writer: RunWriter, logged):
    status = writer.status()
    assert status.error is None
    assert status.rows_logged == status.rows_durable == status.rows_compacted == len(logged)
    assert not paths.wal_dir.exists() or list(paths.wal_dir.glob("*")) == []
    kinds, want = expected_store(logged)
    got = stored_rows(history(paths))
    # every row exactly once, every value in the column and of the type the rule gives it
    assert same_rows(got, want), (got, want)
    steps = [s for s, _ in got]
    assert steps == sorted(set(steps))  # strictly increasing in segment order
    # after close every segment carries the run's final type of each column
    for seg in segment_tables(paths):
        assert seg.schema.field("_step").type == pa.int64()
        for f in seg.schema:
            if f.name not in BASE:
                assert f.type == ARROW[kinds[f.name]], (f.name, f.type, kinds[f.name])


@settings(max_examples=60, deadline=None)
@given(
    script=actions,
    segment_bytes=st.sampled_from([1, 600, 1 << 30]),
    wal_interval=st.sampled_from([0.0, 3600.0]),
    compact=st.booleans(),
)
def test_property_written_rows_read_back_exactly(script, segment_bytes, wal_interval, compact):
    options = WriterOptions(flush_interval=0.001, wal_interval=wal_interval,
                            segment_bytes=segment_bytes, compact=compact)
    with tempfile.TemporaryDirectory() as tmp:
        paths, writer, logged = run_actions(Path(tmp), script, options, check_durable=False)
        check_store(paths, writer, logged)


@settings(max_examples=40, deadline=None)
@given(script=actions)
def test_property_flushed_rows_are_in_the_wal_and_reads_are_idempotent(script):
    # wal_interval and segment_bytes this large: the WAL changes only when the test flushes
    options = WriterOptions(flush_interval=0.001, wal_interval=3600.0, segment_bytes=1 << 30)
    with tempfile.TemporaryDirectory() as tmp:
        paths, writer, logged = run_actions(Path(tmp), script, options, check_durable=True)
        check_store(paths, writer, logged)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.lists(rows, min_size=1, max_size=6), min_size=1, max_size=5))
def test_property_crash_copy_replays_to_the_flushed_rows(batches):
    """A copy of the store taken after flush() (a crash) holds exactly the flushed rows, in
    its segments and WAL files, and replaying the WAL gives the same frames every time."""
    options = WriterOptions(flush_interval=0.001, wal_interval=3600.0, segment_bytes=1 << 30)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = RunPaths.of(root / "store", "e", "p", "r")
        buf = HistoryBuffer()
        writer = RunWriter(paths, buf, 0.0, options)
        writer.start()
        logged = []
        try:
            for batch in batches:
                for row in batch:
                    logged.append((buf.step, row))
                    buf.append(tuple(row), row.values(), buf.step)
                assert writer.flush()
            # the writer is idle until the next flush: copy what a crash would leave
            shutil.copytree(root / "store", root / "crash")
        finally:
            writer.close()
        crashed = RunPaths.of(root / "crash", "e", "p", "r")
        wal_files = sorted(crashed.wal_dir.glob("*.arrows"))
        first = [ipc_bytes(t) for f in wal_files for t in wal.read_frames(f)]
        for f in wal_files:
            assert wal.truncate_torn_tail(f) == 0
        assert [ipc_bytes(t) for f in wal_files for t in wal.read_frames(f)] == first
        replayed = durable_rows(crashed)
        assert norm_rows(replayed) == norm_rows(expected_store(logged)[1])
        assert same_rows(stored_rows(history(paths)), expected_store(logged)[1])

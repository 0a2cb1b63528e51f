"""writer: buffer -> WAL -> Parquet segments, exactly once, with widened columns rewritten."""

from __future__ import annotations

import math
import threading

import pyarrow as pa
import pytest
from runlake.engine import segment
from runlake.engine.buffer import HistoryBuffer
from runlake.engine.kinds import FloatList, IntList, StrList
from runlake.engine.layout import RunPaths
from runlake.engine.wal import WalWriter
from runlake.engine.writer import RunWriter, WriterOptions, next_seq

from tests.engine.util import (
    CycleCounter,
    history,
    logical_rows,
    same_rows,
    segment_tables,
    stored_rows,
    wal_history,
)

FAST = {"flush_interval": 0.001, "wal_interval": 0.0}


@pytest.fixture
def paths(root):
    return RunPaths.of(root, "ent", "proj", "run1")


def log(buf, row, step=None):
    buf.append(tuple(row), row.values(), buf.step if step is None else step)


def test_all_rows_exactly_once_in_several_segments(paths):
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(segment_bytes=2_000, **FAST))
    w.start()
    logged = []
    for i in range(600):
        row = {"loss": 1 / (i + 1), "i": i, "tag": f"t{i % 4}"}
        if i % 3 == 0:
            row["extra"] = None if i % 2 else float(i)
        if not buf.append_like_last(row):
            log(buf, row)
        logged.append((i, row))
        if i % 50 == 49:
            assert w.flush()
    w.close()
    segs = segment_tables(paths)
    assert len(segs) > 3
    assert logical_rows(history(paths)) == [(s, {k: v for k, v in r.items() if v is not None})
                                            for s, r in logged]
    assert list(paths.wal_dir.glob("*")) == []      # every WAL file was compacted and deleted
    assert not any(p.name.startswith(".tmp-") for p in paths.history_dir.iterdir())
    st = w.status()
    assert st.rows_logged == st.rows_durable == st.rows_compacted == 600
    assert st.error is None


def test_flush_makes_rows_durable_in_the_wal_before_close(paths):
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(flush_interval=0.001, wal_interval=3600))
    w.start()
    try:
        rows = [(i, {"a": float(i), "b": i % 2 == 0}) for i in range(20)]
        for _, row in rows:
            log(buf, row)
        assert w.flush()
        assert w.status().rows_durable == 20
        assert logical_rows(wal_history(paths)) == rows
        assert segment_tables(paths) == []
        more = [(20, {"c": "x"})]
        log(buf, more[0][1])
        assert w.flush()
        # a new key may publish the rows before it as a segment: together they hold every row
        assert logical_rows(history(paths)) + logical_rows(wal_history(paths)) == rows + more
    finally:
        w.close()
    assert wal_history(paths) is None
    assert logical_rows(history(paths)) == rows + more


def test_int_column_widened_later_is_float64_in_every_segment(paths):
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(segment_bytes=1, **FAST))
    w.start()
    for i in range(10):
        log(buf, {"x": i, "l": IntList((i,)), "other": 1.0})
        if i % 3 == 2:
            assert w.flush()   # each WAL append is compacted at once (segment_bytes=1)
    assert w.flush()
    assert len(segment_tables(paths)) >= 3
    assert all(t.schema.field("x").type == pa.int64() for t in segment_tables(paths))
    log(buf, {"x": 0.5})
    w.close()
    segs = segment_tables(paths)
    assert len(segs) >= 4
    for t in segs:
        assert t.schema.field("x").type == pa.float64()
    assert history(paths).column("x").to_pylist() == [float(i) for i in range(10)] + [0.5]


def test_int_list_widened_later_is_rewritten_too(paths):
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(segment_bytes=1, **FAST))
    w.start()
    log(buf, {"v": IntList((1, 2))})
    assert w.flush()
    log(buf, {"v": FloatList((0.5,))})
    w.close()
    segs = segment_tables(paths)
    assert len(segs) == 2
    assert all(t.schema.field("v").type == pa.list_(pa.float64()) for t in segs)
    assert history(paths).column("v").to_pylist() == [[1.0, 2.0], [0.5]]


def test_types_changing_between_wal_appends_are_not_lost(paths):
    """Conversions queued between two WAL appends may disagree on a column's type."""
    buf = HistoryBuffer()
    cycles = CycleCounter()
    w = RunWriter(paths, buf, 0.0, WriterOptions(flush_interval=0.001, wal_interval=3600),
                  on_cycle=cycles)
    w.start()
    log(buf, {"y": 1.0})
    assert w.flush()               # the WAL clock starts: later appends wait for wal_interval
    log(buf, {"x": 1})
    cycles.wait_for_fresh_cycle(w)  # converted with x as int64, queued for the WAL
    log(buf, {"x": 2.5})
    cycles.wait_for_fresh_cycle(w)  # converted with x as float64, queued too
    log(buf, {"s": "a"})
    cycles.wait_for_fresh_cycle(w)
    assert w.flush()
    w.close()
    assert w.status().error is None
    assert logical_rows(history(paths)) == [(0, {"y": 1.0}), (1, {"x": 1.0}), (2, {"x": 2.5}),
                                            (3, {"s": "a"})]
    assert all(t.schema.field("x").type == pa.float64()
               for t in segment_tables(paths) if "x" in t.column_names)


def test_conflicting_kinds_land_in_sibling_columns(paths):
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(segment_bytes=1, **FAST))
    w.start()
    rows = [(0, {"k": True}), (1, {"k": "high"}), (2, {"k": 3}), (3, {"k": math.inf}),
            (4, {"k": None}), (5, {"k": StrList(("a",))}), (6, {"k": False})]
    for i, (_, row) in enumerate(rows):
        log(buf, row)
        if i % 2:
            assert w.flush()
    w.close()
    table = history(paths)
    assert set(table.column_names) == {"_step", "_runtime", "_timestamp", "k", "k@str",
                                       "k@list_str"}
    assert table.schema.field("k").type == pa.float64()   # bool -> int -> float
    got = stored_rows(table)
    assert same_rows(got, [(0, {"k": 1.0}), (1, {"k@str": "high"}), (2, {"k": 3.0}),
                           (3, {"k": math.inf}), (4, {}), (5, {"k@list_str": ["a"]}),
                           (6, {"k": 0.0})])


def test_close_without_start_does_the_work(paths):
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0)
    log(buf, {"a": 1})
    log(buf, {"a": 2.5})
    w.close()
    assert logical_rows(history(paths)) == [(0, {"a": 1.0}), (1, {"a": 2.5})]
    assert w.status().rows_compacted == 2


def test_empty_run_writes_nothing(paths):
    w = RunWriter(paths, HistoryBuffer(), 0.0, WriterOptions(**FAST))
    w.start()
    assert w.flush()
    w.close()
    assert segment_tables(paths) == []
    assert wal_history(paths) is None


def test_observer_sees_every_chunk_once_in_order(paths):
    seen = []
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(**FAST),
                  observer=lambda chunks: seen.extend(s for c in chunks for s in c.steps))
    w.start()
    for i in range(100):
        log(buf, {"a": float(i)} if i % 7 else {"b": i})
        if i % 10 == 0:
            w.drain()
    w.close()
    assert seen == list(range(100))


def test_first_seq_and_next_seq(paths):
    assert next_seq(paths) == 0
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(**FAST), first_seq=5)
    log(buf, {"a": 1.0})
    w.close()
    assert [p.name for p in segment.list_segments(paths.history_dir)] == ["part-000005.parquet"]
    assert next_seq(paths) == 6
    WalWriter(paths.wal_file(9)).close()
    assert next_seq(paths) == 10


@pytest.mark.filterwarnings("ignore:runlake. writing run")
def test_a_failed_wal_append_is_retried_and_nothing_is_lost(paths, monkeypatch):
    failed = threading.Event()
    real_append = WalWriter.append

    def append_failing_once(self, table):
        if not failed.is_set():
            failed.set()
            raise OSError("disk full")
        real_append(self, table)

    monkeypatch.setattr(WalWriter, "append", append_failing_once)
    buf = HistoryBuffer()
    for i in range(5):
        log(buf, {"a": float(i)})
    w = RunWriter(paths, buf, 0.0, WriterOptions(flush_interval=0.001))
    w.start()
    failed.wait()
    w.close()
    assert w.status().error is None
    assert logical_rows(history(paths)) == [(i, {"a": float(i)}) for i in range(5)]


@pytest.mark.filterwarnings("ignore:runlake. writing run")
@pytest.mark.parametrize("method", ["write", "close"])
@pytest.mark.parametrize("later", [2.5, 7, IntList((1,))])
def test_a_failed_segment_is_rebuilt_from_the_wal_exactly_once(paths, monkeypatch, method, later):
    """When streaming the segment fails, the WAL file still has every row: the segment is
    rebuilt from it, even when its frames disagree on a column's type (bool, then wider)."""
    real = getattr(segment.SegmentWriter, method)
    failed = threading.Event()

    def failing_once(self, *args):
        if not failed.is_set():
            failed.set()
            raise OSError("disk full")
        return real(self, *args)

    monkeypatch.setattr(segment.SegmentWriter, method, failing_once)
    buf = HistoryBuffer()
    w = RunWriter(paths, buf, 0.0, WriterOptions(flush_interval=0.001, wal_interval=3600))
    w.start()
    log(buf, {"b": True, "s": "x"})
    w.flush()
    if method == "write":
        failed.wait()
    log(buf, {"b": False})
    w.flush()
    log(buf, {"b": later})
    w.flush()
    w.close()
    assert failed.is_set()
    assert w.status().error is None
    widened = [1.0, 0.0, 2.5] if later == 2.5 else [1, 0, 7]
    want_b = [[1.0], [0.0], [1.0]] if isinstance(later, IntList) else widened
    got = stored_rows(history(paths))
    if isinstance(later, IntList):
        assert same_rows(got, [(0, {"b": True, "s": "x"}), (1, {"b": False}),
                               (2, {"b@list": [1]})])
    else:
        assert same_rows(got, [(0, {"b": want_b[0], "s": "x"}), (1, {"b": want_b[1]}),
                               (2, {"b": want_b[2]})])
    assert w.status().rows_compacted == 3
    assert list(paths.wal_dir.glob("*")) == []

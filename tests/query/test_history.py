"""query.history: one run's durable rows (segments + live WAL), streaming, sampling, key rows."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runlake.engine import sources as engine_sources
from runlake.engine.layout import RunPaths
from runlake.engine.segment import write_segment
from runlake.engine.wal import WalWriter
from runlake.engine.writer import compact_wal
from runlake.query import history as h

import runlake

BASE = ["_step", "_runtime", "_timestamp"]


def rows(steps, **cols) -> pa.Table:
    """A history table: the three base columns for `steps`, then `cols` (arrays or lists)."""
    steps = np.asarray(steps, dtype=np.int64)
    data = {"_step": steps, "_runtime": steps * 0.5, "_timestamp": steps * 0.5 + 1e9}
    data.update(cols)
    return pa.table(data)


def write_wal(paths: RunPaths, seq: int, *tables: pa.Table):
    w = WalWriter(paths.wal_file(seq))
    for t in tables:
        w.append(t)
    w.close()
    return paths.wal_file(seq)


@pytest.fixture
def paths(root) -> RunPaths:
    return RunPaths.of(root, "local", "p", "run1")


def steps_of(table) -> list[int]:
    return table.column("_step").to_pylist()


# -- sources and read_table ------------------------------------------------------------------


def test_sdk_run_with_many_segments_reads_every_row_once(root):
    opts = runlake.Settings(segment_bytes=4000, wal_interval=0.0, flush_interval=0.001)
    with runlake.init(project="p", settings=opts.replace(root=root)) as run:
        for i in range(400):
            row = {"a": i}
            if i >= 150:
                row["b"] = i % 7 == 0
            if i == 300:
                row["a"] = 0.5  # int, then float: `a` widens to float64
            run.log(row)
            if i % 40 == 0:
                run._flush()
    paths = RunPaths.of(root, "local", "p", run.id)
    assert len(h.sources(paths)) > 3
    assert all(s.kind == "segment" for s in h.sources(paths))
    table = h.read_table(paths)
    assert steps_of(table) == list(range(400))
    assert table.schema.names == [*BASE, "a", "b"]
    assert table.schema.field("a").type == pa.float64()
    assert table.column("a").to_pylist() == [0.5 if i == 300 else float(i) for i in range(400)]
    assert table.column("b").to_pylist() == [None] * 150 + [i % 7 == 0 for i in range(150, 400)]


def test_live_sdk_run_is_read_up_to_its_last_flush(root):
    run = runlake.init(project="p", settings=runlake.Settings(root=root, wal_interval=60))
    for i in range(50):
        run.log({"x": i * 1.5})
    assert run._flush()
    paths = RunPaths.of(root, "local", "p", run.id)
    assert [s.kind for s in h.sources(paths)] == ["wal"]
    assert steps_of(h.read_table(paths)) == list(range(50))
    assert h.wal_table(paths).num_rows == 50
    run.finish()
    assert steps_of(h.read_table(paths)) == list(range(50))
    assert h.wal_table(paths) is None


def test_hand_made_live_state(paths):
    write_segment(rows([0, 1], x=pa.array([1, 2], pa.int64())), paths.segment_file(0))
    # WAL 0 still exists beside its segment (deleted next): redundant, must be ignored.
    write_wal(paths, 0, rows([0, 1, 99], x=pa.array([7, 7, 7], pa.int64())))
    write_segment(rows([2, 3], x=[2.5, 3.5], y=[True, False]), paths.segment_file(1))
    # WAL 2 has no segment: a live run; its last frame is torn.
    wal = write_wal(paths, 2, rows([4], x=pa.array([4], pa.int64()), z=pa.nulls(1)),
                    rows([5, 6], y=pa.array([3, 4], pa.int64()), s=["a", "b"]),
                    rows([7], x=[100.0]))
    with open(wal, "r+b") as f:
        f.truncate(wal.stat().st_size - 5)
    # A segment being written (hidden name) and stray files are never read.
    pq.write_table(rows([8, 9], x=[0.0, 0.0]), paths.history_dir / ".tmp-abc-part-000003.parquet")
    (paths.wal_dir / "notes.txt").write_text("not a wal")
    assert [(s.seq, s.kind) for s in h.sources(paths)] == [(0, "segment"), (1, "segment"), (2, "wal")]

    table = h.read_table(paths)
    assert steps_of(table) == [0, 1, 2, 3, 4, 5, 6]
    # x: int64 then float64 -> float64; y: bool then int64 -> int64; z only ever null -> left out
    assert table.schema == pa.schema([("_step", pa.int64()), ("_runtime", pa.float64()),
                                      ("_timestamp", pa.float64()), ("x", pa.float64()),
                                      ("y", pa.int64()), ("s", pa.string())])
    assert table.column("x").to_pylist() == [1.0, 2.0, 2.5, 3.5, 4.0, None, None]
    assert table.column("y").to_pylist() == [None, None, 1, 0, None, 3, 4]
    live = h.wal_table(paths)
    assert steps_of(live) == [4, 5, 6] and "z" not in live.column_names


def test_no_history_at_all(paths):
    assert h.sources(paths) == []
    table = h.read_table(paths, keys=["x"])
    assert table.num_rows == 0 and table.schema.names == BASE
    assert list(h.iter_batches(paths)) == []
    assert h.wal_table(paths) is None


def test_a_wal_compacted_between_listing_and_reading_is_read_from_its_segment(paths, monkeypatch):
    write_segment(rows([0, 1], x=[0.0, 1.0]), paths.segment_file(0))
    write_wal(paths, 1, rows([2, 3], x=[2.0, 3.0]), rows([4], x=[4.0]))
    write_wal(paths, 2, rows([5], x=[5.0]))
    real = engine_sources.read_frames
    raced = []

    def racing_read_frames(path):
        if path == paths.wal_file(1) and not raced:  # the writer publishes part-1, drops the WAL
            raced.append(path)
            compact_wal(path, paths.segment_file(1))
            path.unlink()
        return real(path)

    monkeypatch.setattr(engine_sources, "read_frames", racing_read_frames)
    assert steps_of(h.read_table(paths)) == [0, 1, 2, 3, 4, 5]
    assert raced and [s.kind for s in h.sources(paths)] == ["segment", "segment", "wal"]


def test_keys_and_step_range_are_pushed_into_the_parquet_read(paths, monkeypatch):
    n = 10_000
    paths.history_dir.mkdir(parents=True, exist_ok=True)
    for seq in range(4):
        s = np.arange(seq * n, (seq + 1) * n)
        cols = {f"k{j}": np.sin(s * (j + 1.0)) for j in range(5)}
        table = rows(s, **cols)
        pq.write_table(table, paths.segment_file(seq), row_group_size=1000)
    full = h.read_table(paths)
    assert full.num_rows == 4 * n

    reads = []
    real = pq.ParquetFile.read_row_groups

    def spy(self, row_groups, columns=None, **kw):
        reads.append((list(row_groups), list(columns)))
        return real(self, row_groups, columns=columns, **kw)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    got = h.read_table(paths, keys=["k3", "nope", "_step"], min_step=12_345, max_step=15_000)
    assert got.schema.names == [*BASE, "k3"]
    expect = full.filter(pa.compute.and_(pa.compute.greater_equal(full["_step"], 12_345),
                                         pa.compute.less_equal(full["_step"], 15_000)))
    assert got.equals(expect.select([*BASE, "k3"]))
    # Only segment 1 is read, only its row groups 2..5, only the asked columns.
    assert reads == [([2, 3, 4, 5], [*BASE, "k3"])]


# -- iter_batches ----------------------------------------------------------------------------


def test_iter_batches_pages_in_order_with_one_schema(paths):
    write_segment(rows(range(0, 250), a=pa.array(range(250), pa.int64())), paths.segment_file(0))
    write_segment(rows(range(250, 600), a=np.arange(250, 600) / 2, b=["s"] * 350),
                  paths.segment_file(1))
    write_wal(paths, 2, rows(range(600, 610), c=[True] * 10), rows(range(610, 700), a=[1.0] * 90))
    whole = h.read_table(paths)
    for page in (1, 7, 100, 250, 1000):
        batches = list(h.iter_batches(paths, page_size=page))
        assert all(b.num_rows == page for b in batches[:-1]) and 0 < batches[-1].num_rows <= page
        assert all(b.schema == whole.schema for b in batches)
        assert pa.Table.from_batches(batches).equals(whole)
    ranged = list(h.iter_batches(paths, keys=["b"], page_size=64, min_step=240, max_step=605))
    assert [b.num_rows for b in ranged] == [64] * 5 + [46]
    assert pa.Table.from_batches(ranged).equals(
        h.read_table(paths, keys=["b"], min_step=240, max_step=605))
    with pytest.raises(ValueError):
        next(h.iter_batches(paths, page_size=0))


_STREAM = """
import sys
import pyarrow as pa
from runlake.engine.layout import RunPaths
from runlake.query import history as h
paths = RunPaths.of(sys.argv[1], "local", "p", "run1")
rows = 0
for batch in h.iter_batches(paths, keys=sys.argv[2:] or None, page_size=10_000):
    assert batch.num_rows == 10_000
    rows += batch.num_rows
print(rows, pa.default_memory_pool().max_memory())
"""


@pytest.mark.slow
def test_iter_batches_streams_a_million_rows_in_bounded_memory(paths):
    """Peak Arrow memory of a fresh process streaming 1M rows x 13 columns (104 MB) stays at
    about a row group, and reading one key reads about that one column's share."""
    n, part = 1_000_000, 250_000
    for seq in range(n // part):
        s = np.arange(seq * part, (seq + 1) * part)
        write_segment(rows(s, **{f"k{j}": np.sin(s * (j + 1) * 1e-3) for j in range(10)}),
                      paths.segment_file(seq))
    full_bytes = n * 13 * 8
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}

    def stream(*keys):
        out = subprocess.run([sys.executable, "-c", _STREAM, str(paths.root), *keys],
                             capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        count, peak = map(int, out.stdout.split())
        assert count == n
        return peak

    peak_all, peak_one = stream(), stream("k3")
    assert 0 < peak_all < full_bytes / 3
    assert 0 < peak_one < full_bytes / 12


# -- sample ----------------------------------------------------------------------------------


def x_positions(table: pa.Table, x_axis: str) -> list[int]:
    """Row indices in x order: by (x, step), nulls last (the order `sample` keeps)."""
    xs, steps = table.column(x_axis).to_pylist(), table.column("_step").to_pylist()
    return sorted(range(len(xs)), key=lambda i: (xs[i] is None, xs[i] if xs[i] is not None else 0,
                                                  steps[i]))


def is_value(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def check_sample(table: pa.Table, samples: int, keys, x_axis: str = "_step"):
    indices, buckets = h.sample_indices(table, samples, keys, x_axis)
    out = h.sample(table, samples, keys, x_axis)
    n = table.num_rows
    order = x_positions(table, x_axis)
    pos = {row: p for p, row in enumerate(order)}
    kept = [pos[i] for i in indices.tolist()]
    assert out.num_rows == len(kept) <= samples
    assert kept == sorted(set(kept))  # x order, no duplicates
    assert steps_of(out) == [table["_step"][i].as_py() for i in indices.tolist()]
    if n <= samples:
        assert kept == list(range(n))
        return
    if samples >= 2:
        assert kept[0] == 0 and kept[-1] == n - 1
    else:
        assert kept == [n - 1]
    names = keys if keys is not None else [c for c in table.column_names if not c.startswith("_")]
    names = [c for c in names if h._is_numeric(table.schema.field(c).type)]
    if names and samples >= 2 + 2 * len(names):
        assert buckets >= 1  # the shrinking never gives up while one bucket per key fits
    if buckets:
        keptset = set(kept)
        for name in names:
            values = table.column(name).to_pylist()
            for b in range(buckets):
                members = [p for p in range(n) if p * buckets // n == b]
                vals = [values[order[p]] for p in members if is_value(values[order[p]])]
                got = [values[order[p]] for p in members if p in keptset and is_value(values[order[p]])]
                if vals:
                    assert min(vals) in got and max(vals) in got, (name, b)


values_st = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32),
                      st.integers(-5, 5).map(float))


@st.composite
def sample_cases(draw):
    n = draw(st.integers(0, 120))
    nkeys = draw(st.integers(0, 3))
    cols = {f"k{j}": draw(st.lists(values_st, min_size=n, max_size=n)) for j in range(nkeys)}
    if draw(st.booleans()):
        cols["i"] = pa.array(draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)),
                                           min_size=n, max_size=n)), pa.int64())
    cols["epoch"] = pa.array(draw(st.lists(st.one_of(st.none(), st.integers(0, 5)),
                                           min_size=n, max_size=n)), pa.int64())
    cols["name"] = pa.array(["s"] * n, pa.string())
    table = rows(range(0, 2 * n, 2), **cols)
    numeric = [c for c in table.column_names if c.startswith("k") or c == "i"]
    keys = draw(st.one_of(st.none(), st.lists(st.sampled_from(numeric), unique=True)
                          if numeric else st.none()))
    return table, draw(st.integers(1, 40)), keys, draw(st.sampled_from(["_step", "epoch"]))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample_cases())
def test_sample_invariants(case):
    check_sample(*case)


def test_sample_keeps_a_single_spike_in_a_million_rows():
    rng = np.random.default_rng(1)
    n = 1_000_000
    noise = rng.normal(size=n)
    noise[rng.integers(n, size=1000)] = np.nan
    up, down = 123_457, 876_543
    noise[up], noise[down] = 1e6, -1e6
    other = np.where(np.arange(n) % 3 == 0, np.nan, rng.normal(size=n))
    other[500_001] = np.inf
    table = rows(np.arange(n), loss=noise, other=other)
    out = h.sample(table, 500)
    assert out.num_rows <= 500
    kept = set(steps_of(out))
    assert {0, n - 1, up, down, 500_001} <= kept
    assert np.all(np.diff(steps_of(out)) > 0)
    only_loss = h.sample(table, 500, keys=["loss"])
    assert {up, down} <= set(steps_of(only_loss)) and only_loss.num_rows <= 500


def test_sample_edges():
    table = rows(range(10), x=[float(i) for i in range(10)], s=["a"] * 10)
    assert steps_of(h.sample(table, 10)) == list(range(10))
    assert steps_of(h.sample(table, 1)) == [9]
    assert steps_of(h.sample(table, 2)) == [0, 9]
    with pytest.raises(ValueError):
        h.sample(table, 0)
    # No numeric key: the ends, then evenly spaced rows.
    assert steps_of(h.sample(table, 4, keys=["s"])) == [0, 3, 6, 9]
    # NaN and null are never extremes; an all-NaN key adds nothing.
    nan = rows(range(6), x=[math.nan, 5.0, None, math.nan, -5.0, math.nan])
    assert h.sample_indices(nan, 4, ["x"])[0].tolist() == [0, 1, 4, 5]
    # Rows come back in x order even when stored in another.
    shuffled = rows(range(5), epoch=pa.array([3, 1, None, 0, 2], pa.int64()), v=[1.0] * 5)
    assert h.sample(shuffled, 9, x_axis="epoch")["epoch"].to_pylist() == [0, 1, 2, 3, None]


def test_sample_budget_overflow_shrinks_buckets_then_ranks_keys():
    rng = np.random.default_rng(7)
    n = 5000
    table = rows(np.arange(n), **{f"k{j:02d}": rng.normal(size=n) for j in range(30)})
    idx, buckets = h.sample_indices(table, 100)
    assert len(idx) <= 100 and 1 <= buckets < 50
    # 30 keys, 10 rows: even one bucket overflows -> ends, then k00's and k01's min and max...
    idx, buckets = h.sample_indices(table, 10)
    assert buckets == 0 and len(idx) == 10 and idx[0] == 0 and idx[-1] == n - 1
    for key in ("k00", "k01"):
        col = table[key].to_numpy()
        assert {int(np.argmin(col)), int(np.argmax(col))} <= set(idx.tolist())
    again, _ = h.sample_indices(table, 10)
    assert again.tolist() == idx.tolist()  # deterministic


# -- history_rows_with_keys ------------------------------------------------------------------


def test_history_rows_with_keys():
    table = rows(range(5), a=[1.0, None, math.nan, 4.0, 5.0], b=[None, 2, 3, 4, 5],
                 epoch=pa.array([0, 0, 1, None, 2], pa.int64()))
    got = h.history_rows_with_keys(table, ["a", "b"])
    assert got.schema.names == ["_step", "a", "b"]
    assert steps_of(got) == [2, 3, 4]  # NaN is a logged value
    by_epoch = h.history_rows_with_keys(table, ["a"], x_axis="epoch")
    assert by_epoch.schema.names == ["_step", "epoch", "a"] and steps_of(by_epoch) == [0, 2, 4]
    missing = h.history_rows_with_keys(table, ["a", "nope"])
    assert missing.num_rows == 0 and missing.schema.names == ["_step", "a", "nope"]
    assert missing.schema.field("a").type == pa.float64()


@pytest.mark.parametrize("keys, words", [([1], "got int 1"), ("loss", "pass ['loss']"),
                                         ([None], "NoneType")])
def test_history_keys_that_are_not_names_are_a_clear_error(tmp_path, keys, words):
    import runlake

    with runlake.init(settings={"root": tmp_path / "s"}, project="p") as run:
        run.log({"loss": 1.0})
    api = runlake.Api(tmp_path / "s")
    public = api.run(run.path)
    for call in (lambda: public.history(keys=keys), lambda: list(public.scan_history(keys=keys)),
                 lambda: api.history("p", keys=keys)):
        with pytest.raises(runlake.Error, match=re.escape(words)):
            call()


def test_a_store_path_holding_glob_characters_is_read_literally(tmp_path):
    """polars reads listed paths as globs unless told: `[1]` once made Api.history() empty."""
    import runlake

    root = tmp_path / "st[1]" / "a*b?"
    with runlake.init(settings={"root": root}, project="p") as run:
        for i in range(3):
            run.log({"a": float(i)})
    api = runlake.Api(root)
    assert api.history("p").collect()["a"].to_list() == [0.0, 1.0, 2.0]
    assert api.sql("SELECT count(*) FROM history").fetchall() == [(3,)]
    assert len(api.run(run.path).history(samples=None, format="records")) == 3

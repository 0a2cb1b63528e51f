"""query.catalog and query.segments: the derived caches stay current and are never trusted blindly."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

import runlake
from runlake.engine.layout import RunPaths
from runlake.engine.segment import write_segment
from runlake.query import api as api_mod
from runlake.query.catalog import Cache, load, run_dirs
from runlake.query.segments import SCHEMA, SegmentIndex, index_path


def segment(paths: RunPaths, seq: int, **cols) -> None:
    n = len(next(iter(cols.values())))
    base = {"_step": pa.array(range(seq * 100, seq * 100 + n), pa.int64()),
            "_runtime": pa.array([0.0] * n), "_timestamp": pa.array([1e9] * n)}
    write_segment(pa.table({**base, **cols}), paths.segment_file(seq))


def test_cache_makes_rows_only_for_new_or_changed_keys(tmp_path):
    made = []

    def row(key, stamp):
        made.append(key[0])
        return None if key == ("bad",) else {"k": key[0], "v": stamp[0]}

    schema = pa.schema([("k", pa.string()), ("v", pa.int64())])
    cache = Cache(tmp_path / "c.arrow", schema, ["k"], ["v"], row)
    t1 = cache.refresh({("a",): (1,), ("b",): (2,)})
    assert sorted(made) == ["a", "b"] and t1.num_rows == 2
    assert cache.refresh({("a",): (1,), ("b",): (2,)}) is t1  # unchanged: the same object
    made.clear()
    t2 = cache.refresh({("a",): (1,), ("b",): (3,), ("bad",): (0,)})
    assert sorted(made) == ["b", "bad"]
    assert sorted(t2.to_pylist(), key=lambda r: r["k"]) == [{"k": "a", "v": 1}, {"k": "b", "v": 3}]
    # A new process starts from the saved file and only re-reads what changed since.
    made.clear()
    again = Cache(tmp_path / "c.arrow", schema, ["k"], ["v"], row)
    assert again.refresh({("a",): (1,), ("b",): (3,)}).num_rows == 2 and made == []
    (tmp_path / "c.arrow").write_bytes(b"garbage")
    assert Cache(tmp_path / "c.arrow", schema, ["k"], ["v"], row).refresh({("a",): (1,)}).num_rows == 1


def test_run_dirs_skip_names_runlake_could_not_have_made(root):
    good = RunPaths.of(root, "local", "p", "r1")
    good.history_dir.mkdir(parents=True)
    (root / "history" / "entity=local" / "project=p" / "run_id=a'b; DROP").mkdir()
    (root / "history" / "entity=local" / "project=..").mkdir()
    assert [key for key, _ in run_dirs(root / "history")] == [("local", "p", "r1")]


def test_segment_index_tracks_new_rewritten_and_removed_files(root):
    a, b = RunPaths.of(root, "local", "p", "a"), RunPaths.of(root, "local", "p", "b")
    segment(a, 0, x=pa.array([1, 2], pa.int64()))
    index = SegmentIndex(root)
    snap = index.snapshot()
    assert [(p.name, s.field("x").type) for p, s in snap.files()] == [("part-000000.parquet", pa.int64())]
    assert snap.live == ()
    # A widening rewrites a segment under the same name: its new schema is seen.
    segment(a, 0, x=pa.array([1.5, 2.0]))
    st = os.stat(a.segment_file(0))
    os.utime(a.segment_file(0), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    segment(b, 0, y=pa.array(["s"]))
    snap = SegmentIndex(root).snapshot()  # from the saved cache, refreshed
    types = {p.parent.name: s.field(s.names[-1]).type for p, s in snap.files()}
    assert types == {"run_id=a": pa.float64(), "run_id=b": pa.string()}
    assert snap.files({("local", "p", "b")})[0][0] == b.segment_file(0)
    os.remove(b.segment_file(0))
    assert len(index.snapshot().files()) == 1
    index_path(root).write_bytes(b"not parquet")
    assert len(SegmentIndex(root).snapshot().files()) == 1


def test_history_view_unifies_many_schema_groups(root, monkeypatch):
    """More schema groups than MAX_SCHEMA_GROUPS: the rest are read with union_by_name; an
    int key in one run and a float in another is a DOUBLE; a key only some runs have is null."""
    monkeypatch.setattr(api_mod, "MAX_SCHEMA_GROUPS", 3)
    for i in range(6):
        paths = RunPaths.of(root, "local", "p", f"r{i}")
        cols = {f"only{i}": pa.array([i, i], pa.int64()),
                "x": pa.array([i, i], pa.int64() if i % 2 else pa.float64()),
                "b": pa.array([True, False]) if i < 3 else pa.array([i, i], pa.int64())}
        segment(paths, 0, **cols)
    api = runlake.Api(root=root)
    got = api.sql("SELECT run_id, sum(x) AS x, count(only4) AS o4 FROM history"
                  " GROUP BY run_id ORDER BY run_id").fetchall()
    assert got == [(f"r{i}", 2.0 * i, 2 if i == 4 else 0) for i in range(6)]
    assert api.sql("SELECT typeof(x) FROM history LIMIT 1").fetchall() == [("DOUBLE",)]
    df = api_mod.histories_lazy(api._segments.snapshot().files(), []).collect().sort("run_id")
    assert df.height == 12 and str(df.schema["x"]) == "Float64" and str(df.schema["b"]) == "Int64"
    assert df["b"].to_list() == [1, 0] * 3 + [3, 3, 4, 4, 5, 5]
    assert df["only4"].to_list() == [None] * 8 + [4, 4] + [None] * 2


def test_a_torn_or_hidden_file_is_never_read(root):
    paths = RunPaths.of(root, "local", "p", "r")
    segment(paths, 0, x=pa.array([1.0]))
    (paths.history_dir / ".tmp-123-part-000001.parquet").write_bytes(b"PAR1 torn")
    (paths.history_dir / "part-000001.parquet.tmp").write_bytes(b"torn")
    api = runlake.Api(root=root)
    assert api.sql("SELECT count(*) FROM history").fetchall() == [(1,)]


@pytest.mark.parametrize("run_id", ["007", "1e3", "true"])
def test_run_ids_that_look_like_numbers_stay_strings(root, run_id):
    segment(RunPaths.of(root, "local", "p", run_id), 0, x=pa.array([1.0]))
    got = runlake.Api(root=root).sql("SELECT run_id, typeof(run_id) FROM history").fetchall()
    assert got == [(run_id, "VARCHAR")]
    assert load(index_path(root), SCHEMA).column("run_id").to_pylist() == [run_id]

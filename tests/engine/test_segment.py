"""segment: atomic publication and the Parquet writer options."""

from __future__ import annotations

import math
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from runlake.engine import atomic, segment
from runlake.engine.segment import list_segments, read_segments, write_segment, writer_options

DICT = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}


def sample(n=50):
    return pa.table({
        "_step": pa.array(range(n), pa.int64()),
        "loss": pa.array([i / 7 if i % 5 else math.nan for i in range(n)], pa.float64()),
        "n": pa.array(range(n), pa.int64()),
        "ok": pa.array([i % 2 == 0 for i in range(n)]),
        "tag": pa.array([f"t{i % 3}" for i in range(n)], pa.large_string()),
        "val.acc": pa.array([f"v{i % 2}" for i in range(n)], pa.large_string()),
        "names": pa.array([["a", "b"]] * n, pa.list_(pa.large_string())),
        "vec": pa.array([[1.0, 2.0]] * n, pa.list_(pa.float64())),
    })


def encodings(path):
    md = pq.ParquetFile(path).metadata
    out = {}
    for rg in range(md.num_row_groups):
        for i in range(md.num_columns):
            col = md.row_group(rg).column(i)
            out.setdefault(col.path_in_schema.split(".list.")[0], set()).update(col.encodings)
            assert col.compression == "ZSTD"
    return out


def no_tmp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")] == []


def test_writer_options():
    opts = writer_options(sample().schema)
    assert opts["compression"] == "zstd"
    assert "use_byte_stream_split" not in opts
    compact = writer_options(sample().schema, compact=True)
    assert compact["compression"] == "zstd"
    assert set(compact["use_byte_stream_split"]) == {"loss"}
    assert compact["use_dictionary"] == opts["use_dictionary"]
    assert "use_byte_stream_split" not in writer_options(
        pa.schema([("s", pa.large_string())]), compact=True
    )


@pytest.mark.parametrize("compact", [False, True])
def test_dictionary_only_on_string_columns_and_bss_only_when_compact(tmp_path, compact):
    path = write_segment(sample(), tmp_path / "part-000000.parquet", compact=compact)
    enc = encodings(path)
    for name in ("tag", "val.acc", "names"):
        assert enc[name] & DICT, name
    for name in ("_step", "loss", "n", "ok", "vec"):
        assert not enc[name] & DICT, name
    assert ("BYTE_STREAM_SPLIT" in enc["loss"]) is compact
    for name in ("_step", "n", "ok", "tag", "names"):
        assert "BYTE_STREAM_SPLIT" not in enc[name]


@pytest.mark.parametrize("compact", [False, True])
def test_segments_are_readable_by_pyarrow(tmp_path, compact):
    table = sample()
    path = write_segment(table, tmp_path / "h" / "part-000001.parquet", compact=compact, fsync=True)
    back = pq.read_table(path)
    assert back.schema == table.schema
    for name in table.column_names:
        a, b = back.column(name).to_pylist(), table.column(name).to_pylist()
        if name == "loss":
            assert [str(x) for x in a] == [str(x) for x in b]  # nan == nan as text
        else:
            assert a == b
    assert no_tmp_files(path.parent)


def test_write_is_atomic_target_appears_only_complete(tmp_path, monkeypatch):
    target = tmp_path / "part-000000.parquet"
    old = pa.table({"x": [1]})
    write_segment(old, target)
    seen = []
    real_replace = os.replace

    def checking_replace(src, dst):
        src, dst = type(target)(src), type(target)(dst)
        assert dst == target and src.parent == target.parent and src.name.startswith(".tmp-")
        # the temporary file is complete before it is published; the target is still the old one
        seen.append(pq.read_table(src).num_rows)
        assert pq.read_table(dst).equals(old)
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", checking_replace)
    write_segment(sample(), target)
    assert seen == [50]
    assert pq.read_table(target).num_rows == 50
    assert no_tmp_files(tmp_path)
    assert list_segments(tmp_path) == [target]


def test_failed_write_leaves_the_old_segment_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "part-000000.parquet"
    write_segment(pa.table({"x": [1, 2]}), target)
    real_write = pq.write_table

    def failing_write(table, where, **kw):
        real_write(table.slice(0, 1), where, **kw)  # half written, then the disk fills up
        raise OSError("disk full")

    monkeypatch.setattr(segment.pq, "write_table", failing_write)
    with pytest.raises(OSError, match="disk full"):
        write_segment(pa.table({"x": [7, 8, 9]}), target)
    assert pq.read_table(target).column("x").to_pylist() == [1, 2]
    assert no_tmp_files(tmp_path)

    new = tmp_path / "part-000001.parquet"
    with pytest.raises(OSError):
        write_segment(pa.table({"x": [7]}), new)
    assert not new.exists() and no_tmp_files(tmp_path)
    assert list_segments(tmp_path) == [target]


def test_list_and_read_segments(tmp_path):
    assert list_segments(tmp_path / "missing") == []
    assert read_segments(tmp_path / "missing") is None
    write_segment(pa.table({"_step": [2], "a": [1.5]}), tmp_path / "part-000002.parquet")
    write_segment(pa.table({"_step": [0], "b": ["x"]}), tmp_path / "part-000000.parquet")
    (tmp_path / ".tmp-abc-part-000003.parquet").write_bytes(b"partial")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_segments(tmp_path)] == ["part-000000.parquet", "part-000002.parquet"]
    table = read_segments(tmp_path)
    assert table.column("_step").to_pylist() == [0, 2]
    assert table.column("a").to_pylist() == [None, 1.5]
    assert table.column("b").to_pylist() == ["x", None]


def test_segment_writer_publishes_only_on_close(tmp_path):
    path = tmp_path / "h" / "part-000000.parquet"
    schema = pa.schema([("_step", pa.int64()), ("a", pa.float64()), ("s", pa.large_string())])
    w = segment.SegmentWriter(path, schema)
    assert w.accepts(pa.schema([("_step", pa.int64()), ("a", pa.float64())]))
    assert not w.accepts(pa.schema([("a", pa.int64())]))          # another type
    assert not w.accepts(pa.schema([("b", pa.float64())]))        # a new column
    w.write(pa.table({"_step": pa.array([0, 1], pa.int64()), "a": [0.5, math.nan]}))
    w.write(pa.table({"s": pa.array(["x"], pa.large_string()), "_step": pa.array([2], pa.int64()),
                      "a": [1.5]}))
    assert list_segments(path.parent) == []   # nothing visible before close
    assert w.close() == path
    assert no_tmp_files(path.parent)
    back = pq.read_table(path)
    assert back.schema == schema
    assert back.column("_step").to_pylist() == [0, 1, 2]
    assert [str(v) for v in back.column("a").to_pylist()] == ["0.5", "nan", "1.5"]
    assert back.column("s").to_pylist() == [None, None, "x"]
    assert encodings(path)["s"] & DICT and not encodings(path)["a"] & DICT


def test_segment_writer_abort_leaves_nothing(tmp_path):
    path = tmp_path / "part-000000.parquet"
    w = segment.SegmentWriter(path, pa.schema([("_step", pa.int64())]))
    w.write(pa.table({"_step": pa.array(range(10), pa.int64())}))
    w.abort()
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_segment_writer_failed_close_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "part-000000.parquet"
    w = segment.SegmentWriter(path, pa.schema([("_step", pa.int64())]))
    w.write(pa.table({"_step": pa.array(range(10), pa.int64())}))

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError):
        w.close()
    assert list(tmp_path.iterdir()) == []

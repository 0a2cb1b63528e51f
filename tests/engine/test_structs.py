"""Struct columns (media references): type inference, merging, widening across segments."""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from runlake.engine import structs
from runlake.engine.buffer import HistoryBuffer
from runlake.engine.convert import RunSchema, chunks_to_table, conform
from runlake.engine.kinds import REF, Ref

from runlake.engine.layout import RunPaths


def test_infer_and_build_round_trip_nested_values():
    values = [
        Ref({"_type": "image-file", "path": "a.png", "width": 3, "caption": None}),
        None,
        Ref({"_type": "images/separated", "count": 2,
             "items": [{"path": "x", "w": 1}, {"path": "y", "caption": "c"}]}),
    ]
    t = structs.infer_all(values)
    # caption is None in its only value: no field for it yet
    assert [f.name for f in t] == ["_type", "path", "width", "count", "items"]
    got = structs.build(values, t).to_pylist()
    assert got[1] is None
    assert got[0] == {"_type": "image-file", "path": "a.png", "width": 3, "count": None, "items": None}
    assert got[2]["items"] == [{"path": "x", "w": 1, "caption": None},
                               {"path": "y", "w": None, "caption": "c"}]


def test_merge_widens_numbers_adds_fields_and_falls_back_to_text():
    a = structs.infer({"n": 1, "l": [1], "s": "x"})
    b = structs.infer({"n": 2.5, "l": [0.5], "s": 3, "new": True})
    m = structs.merge(a, b)
    assert m == pa.struct([("n", pa.float64()), ("l", pa.list_(pa.float64())),
                           ("s", pa.large_string()), ("new", pa.bool_())])
    arr = structs.build([{"n": 1, "l": [1], "s": "x"}, {"n": 2.5, "l": [0.5], "s": 3, "new": True}], m)
    assert arr.to_pylist() == [{"n": 1.0, "l": [1.0], "s": "x", "new": None},
                               {"n": 2.5, "l": [0.5], "s": "3", "new": True}]


@pytest.mark.slow
def test_building_does_not_import_pandas():
    # pa.array would import pandas (half a second, in the writer thread): a fresh process
    import subprocess

    code = ("import sys; from runlake.engine import structs; from runlake.engine.kinds import Ref;"
            "v=[Ref({'a': [1, 2], 'b': {'c': 'd'}}), None];"
            "structs.build(v, structs.infer_all(v)); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _table(rows, schema):
    buf = HistoryBuffer()
    for i, row in enumerate(rows):
        buf.append(tuple(row), row.values(), i)
    return chunks_to_table(buf.take(), schema, 0.0)


def test_run_schema_widens_a_struct_column_and_conforms_earlier_tables():
    schema = RunSchema()
    first = _table([{"m": Ref({"_type": "image-file", "width": 2})}], schema)
    second = _table([{"m": Ref({"_type": "histogram", "bins": [0.0, 1.0], "width": 2.5})}], schema)
    assert schema.columns["m"] == REF and "m" in schema.widened
    both = pa.concat_tables([conform(first, schema), conform(second, schema)])
    assert both.column("m").to_pylist() == [
        {"_type": "image-file", "width": 2.0, "bins": None},
        {"_type": "histogram", "width": 2.5, "bins": [0.0, 1.0]},
    ]
    # a number under the struct key goes to its own column, as other families do
    third = _table([{"m": 3.0}], schema)
    assert "m@number" in third.column_names


def test_a_widened_struct_is_rewritten_into_every_segment_at_finish(tmp_path):
    from runlake.engine.writer import RunWriter, WriterOptions

    paths = RunPaths.of(tmp_path, "e", "p", "r")
    buf = HistoryBuffer()
    writer = RunWriter(paths, buf, 0.0, WriterOptions(flush_interval=3600))
    writer.start()
    buf.append(("m",), (Ref({"_type": "a", "x": 1}),), 0)
    writer.flush()
    buf.append(("m",), (Ref({"_type": "b", "y": "s"}),), 1)
    writer.close()
    types = {structs.normalize(pq.read_schema(p).field("m").type)
             for p in sorted(paths.history_dir.glob("part-*"))}
    assert types == {pa.struct([("_type", pa.large_string()), ("x", pa.int64()), ("y", pa.large_string())])}
    assert RunSchema.from_arrow(pq.read_schema(next(paths.history_dir.glob("part-*")))).columns == {"m": REF}


def test_recovery_compacts_a_crashed_run_s_struct_frames_to_one_type(tmp_path):
    from runlake.engine.recovery import compact_wals
    from runlake.engine.writer import RunWriter, WriterOptions

    paths = RunPaths.of(tmp_path, "e", "p", "r")
    buf = HistoryBuffer()
    writer = RunWriter(paths, buf, 0.0, WriterOptions(flush_interval=3600, segment_bytes=1 << 40))
    writer.start()
    buf.append(("m",), (Ref({"_type": "a", "x": 1}),), 0)
    assert writer.flush()
    buf.append(("m",), (Ref({"_type": "b", "x": 2.5, "y": ["s"]}),), 1)
    assert writer.flush()
    # a crash: the writer is abandoned with its rows in WAL files (no finish)
    wals = sorted(paths.wal_dir.glob("*.arrows"))
    assert wals
    writer._segment = None  # what the dead process left is on disk only
    compact_wals(paths)
    segments = sorted(paths.history_dir.glob("part-*.parquet"))
    types = {structs.normalize(pq.read_schema(p).field("m").type) for p in segments}
    assert types == {pa.struct([("_type", pa.large_string()), ("x", pa.float64()),
                                ("y", pa.list_(pa.large_string()))])}
    got = pa.concat_tables([pq.read_table(p) for p in segments]).sort_by("_step").column("m").to_pylist()
    assert got == [{"_type": "a", "x": 1.0, "y": None}, {"_type": "b", "x": 2.5, "y": ["s"]}]


def test_a_resumed_run_s_struct_column_is_not_widened_by_parquet_s_list_names():
    t = pa.struct([("bins", pa.list_(pa.float64()))])
    read_back = pa.struct([("bins", pa.list_(pa.field("element", pa.float64())))])
    assert str(read_back) != str(t) and str(structs.normalize(read_back)) == str(t)
    schema = RunSchema()
    schema.absorb("h", read_back)
    assert schema.struct_type("h", t) == t and not schema.widened

"""engine/sources.py: the one reader of a stream's segments and uncompacted WAL files, and
engine/union.py: the one rule that reads them under one schema."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from runlake.engine import resume, sources
from runlake.engine.layout import RunPaths
from runlake.engine.segment import write_segment
from runlake.engine.system import compact_wals as compact_system_wals
from runlake.engine.union import SYSTEM_BASE, Union, combine
from runlake.engine.wal import WalWriter
from runlake.engine.writer import compact_wal
from runlake.query import history, system


def rows(steps, **cols) -> pa.Table:
    steps = np.asarray(steps, dtype=np.int64)
    data = {"_step": steps, "_runtime": steps * 0.5, "_timestamp": steps * 0.5 + 1e9}
    data.update(cols)
    return pa.table(data)


def samples(times, **cols) -> pa.Table:
    times = np.asarray(times, dtype=np.float64)
    return pa.table({"_timestamp": times + 1e9, "_runtime": times, **cols})


def write_wal(path, *tables):
    w = WalWriter(path)
    for t in tables:
        w.append(t)
    w.close()
    return path


@pytest.fixture
def paths(tmp_path) -> RunPaths:
    return RunPaths.of(tmp_path, "local", "p", "run1")


def seal(wal_path, segment_path):
    """What a compactor does: publish the segment, then delete the WAL file."""
    compact_wal(wal_path, segment_path)
    wal_path.unlink()


def test_segments_then_wal_files_without_a_segment(paths):
    write_segment(rows([0, 1], x=[0.0, 1.0]), paths.segment_file(0))
    write_wal(paths.wal_file(0), rows([0, 1], x=[0.0, 1.0]))  # redundant: part-0 exists
    write_wal(paths.wal_file(1), rows([2], x=[2.0]))
    (paths.history_dir / ".tmp-abc-part-000002.parquet").write_bytes(b"partial")
    parts = sources.history(paths)
    assert [(p.source.seq, p.source.kind, p.rows) for p in parts] == [
        (0, "segment", 2), (1, "wal", 1)]
    assert [t.num_rows for p in parts for t in p.read()] == [2, 1]
    assert [t.column_names for t in parts[1].read(["_step", "nope"])] == [["_step"]]


def test_a_wal_sealed_between_listing_and_reading_is_read_once_from_its_segment(
        paths, monkeypatch):
    write_segment(rows([0, 1]), paths.segment_file(0))
    write_wal(paths.wal_file(1), rows([2, 3]), rows([4]))
    write_wal(paths.wal_file(2), rows([5]))
    real = sources.read_frames
    raced = []

    def racing(path):
        if path == paths.wal_file(1) and not raced:  # the compactor gets there first
            raced.append(path)
            seal(path, paths.segment_file(1))
        return real(path)

    monkeypatch.setattr(sources, "read_frames", racing)
    parts = sources.history(paths)
    assert raced
    assert [(p.source.seq, p.source.kind) for p in parts] == [
        (0, "segment"), (1, "segment"), (2, "wal")]
    steps = [s for p in parts for t in p.read() for s in t.column("_step").to_pylist()]
    assert steps == [0, 1, 2, 3, 4, 5]


def test_a_wal_sealed_between_the_two_listings_is_listed_as_its_segment(paths, monkeypatch):
    write_wal(paths.wal_file(0), rows([0, 1]))
    real = sources._listing
    calls = []

    def racing(folder, pattern):
        found = real(folder, pattern)
        if not calls:  # the WAL listing: seal it before the segments are listed
            seal(paths.wal_file(0), paths.segment_file(0))
        calls.append(folder)
        return found

    monkeypatch.setattr(sources, "_listing", racing)
    parts = sources.history(paths)
    assert [(p.source.kind, p.rows) for p in parts] == [("segment", 2)]


def test_the_reader_gives_up_only_after_many_relistings(paths, monkeypatch):
    write_wal(paths.wal_file(0), rows([0]))

    def vanished(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(sources, "read_frames", vanished)
    with pytest.raises(FileNotFoundError):
        sources.history(paths)


def test_history_and_system_streams_are_read_apart(paths, monkeypatch):
    """One run, both streams, each half compacted; the system WAL sealed mid-read."""
    write_segment(rows([0, 1], loss=[1.0, 0.5]), paths.segment_file(0))
    write_wal(paths.wal_file(1), rows([2], loss=[0.25]))
    write_segment(samples([0.0, 10.0], **{"system.cpu": [1.0, 2.0]}),
                  paths.system_segment_file(0))
    write_wal(paths.system_wal_file(1), samples([20.0], **{"system.cpu": [3.0]}))
    write_wal(paths.system_wal_file(2), samples([30.0], **{"system.cpu": [4.0],
                                                            "system.gpu.0.gpu": [50.0]}))
    real = sources.read_frames
    raced = []

    def racing(path):
        if path == paths.system_wal_file(1) and not raced:
            raced.append(path)
            write_segment(combine(list(real(path)), SYSTEM_BASE), paths.system_segment_file(1))
            path.unlink()
        return real(path)

    monkeypatch.setattr(sources, "read_frames", racing)
    hist = history.read_table(paths)
    sysm = system.read_table(paths)
    assert raced
    assert hist.column_names == ["_step", "_runtime", "_timestamp", "loss"]
    assert hist.column("loss").to_pylist() == [1.0, 0.5, 0.25]
    assert sysm.column_names == ["_timestamp", "_runtime", "system.cpu", "system.gpu.0.gpu"]
    assert sysm.column("system.cpu").to_pylist() == [1.0, 2.0, 3.0, 4.0]
    assert sysm.column("system.gpu.0.gpu").to_pylist() == [None, None, None, 50.0]
    assert [p.source.kind for p in sources.system(paths)] == ["segment", "segment", "wal"]


# -- one union rule --------------------------------------------------------------------------


def test_union_widens_within_a_family_and_keeps_other_families_apart():
    u = Union.of([
        pa.schema([("a", pa.int64()), ("b", pa.bool_()), ("s", pa.large_string()),
                   ("l", pa.list_(pa.int64())), ("n", pa.null())]),
        pa.schema([("a", pa.float64()), ("b", pa.int64()), ("s", pa.float64()),
                   ("l", pa.list_(pa.float64())), ("a@str", pa.large_string())]),
        pa.schema([("a", pa.large_string()), ("l", pa.large_string())]),
    ])
    assert dict(zip(u.schema().names, u.schema().types)) == {
        "_step": pa.int64(), "_runtime": pa.float64(), "_timestamp": pa.float64(),
        "a": pa.float64(), "b": pa.int64(), "s": pa.large_string(),
        "l": pa.list_(pa.float64()), "s@number": pa.float64(), "a@str": pa.large_string(),
        "l@str": pa.large_string(),
    }
    assert u.schema(["l", "zz", "a"]).names == ["_step", "_runtime", "_timestamp", "l", "a"]


def test_union_merges_reference_structs_by_name():
    one = pa.struct([("_type", pa.large_string()), ("width", pa.int64())])
    two = pa.struct([("_type", pa.large_string()), ("width", pa.float64()),
                     ("caption", pa.large_string())])
    u = Union.of([pa.schema([("img", one)]), pa.schema([("img", two)])])
    t = u.types["img"]
    assert [f.name for f in t] == ["_type", "width", "caption"]
    assert t.field("width").type == pa.float64()


MIXED = [  # (seq, kind, table): the same key as int, then float, then string, in three files
    (0, "segment", rows([0, 1], v=pa.array([1, 2], pa.int64()))),
    (1, "segment", rows([2], v=pa.array([2.5]))),
    (2, "wal", rows([3], v=pa.array(["high"], pa.large_string()))),
]
EXPECTED = {"v": [1.0, 2.0, 2.5, None], "v@str": [None, None, None, "high"]}


def _write_mixed(paths):
    for seq, kind, table in MIXED:
        if kind == "segment":
            write_segment(table, paths.segment_file(seq))
        else:
            write_wal(paths.wal_file(seq), table)


def test_every_reader_agrees_on_mixed_types(paths, tmp_path):
    _write_mixed(paths)
    table = history.read_table(paths)
    assert {c: table.column(c).to_pylist() for c in EXPECTED} == EXPECTED
    assert table.schema.field("v").type == pa.float64()
    streamed = pa.Table.from_batches(list(history.iter_batches(paths, page_size=2)))
    assert streamed.equals(table)
    assert history.wal_table(paths).column("v@str").to_pylist() == ["high"]

    # Export: the same columns and types.
    import runlake
    from runlake.engine.meta import RunMeta
    from runlake.engine.times import iso
    RunMeta(paths.meta_file, {"id": "run1", "entity": "local", "project": "p", "state":
                              "finished", "created_at": iso(0), "heartbeat_at": iso(0)}).update()
    out = pq.read_table(runlake.Api(root=paths.root).export("local/p", tmp_path / "e.parquet"))
    assert {c: out.column(c).to_pylist() for c in EXPECTED} == EXPECTED
    assert out.schema.field("v").type == pa.float64()

    # Resume and fork: the same kinds, and the fork's copy reads back the same.
    schema = resume.run_schema(paths)
    assert schema.columns == {"v": "float"} and schema.widened == {"v"}
    child = RunPaths.of(paths.root, "local", "p", "child")
    assert resume.copy_prefix(paths, child, 10) == 4
    copied = history.read_table(child)
    assert {c: copied.column(c).to_pylist() for c in EXPECTED} == EXPECTED
    assert resume.last_row(paths) == (3, 1.5)


def test_system_stream_uses_the_same_rule(paths):
    write_wal(paths.system_wal_file(0), samples([0.0], m=pa.array([1], pa.int64())),
              samples([1.0], m=pa.array([1.5])), samples([2.0], m=pa.array(["n/a"])))
    live = system.read_table(paths)
    assert live.column("m").to_pylist() == [1.0, 1.5, None]
    assert live.column("m@str").to_pylist() == [None, None, "n/a"]
    compact_system_wals(paths)  # recovery: the WAL becomes a segment under the same rule
    assert [p.source.kind for p in sources.system(paths)] == ["segment"]
    assert system.read_table(paths).equals(live)

"""The system-metrics stream (engine/system.py): what goes in comes back out through plain
pyarrow, whether the writer closed, was killed (WAL only), or died mid-frame."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runlake.engine import recovery
from runlake.engine.layout import RunPaths
from runlake.engine.system import SystemWriter, compact_wals, next_seq, sample_table
from runlake.engine.wal import read_frames

NAMES = ["system.cpu", "system.memory_percent", "system.gpu.0.gpu", "system.disk./.usageGB"]
values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
samples = st.lists(st.dictionaries(st.sampled_from(NAMES), values), min_size=0, max_size=25)


def read_back(paths: RunPaths) -> list[dict]:
    """Every sample in the published segments, with plain pyarrow, in file then row order."""
    tables = [pq.read_table(p, partitioning=None)
              for p in sorted(paths.system_dir.glob("part-*.parquet"))]
    if not tables:
        return []
    return pa.concat_tables(tables, promote_options="permissive").to_pylist()


def same(got: list[dict], want: list[tuple[float, float, dict]]) -> None:
    assert len(got) == len(want)
    for row, (ts, rt, vals) in zip(got, want):
        assert row["_timestamp"] == ts and row["_runtime"] == rt
        for name in NAMES:
            a, b = row.get(name), vals.get(name)
            assert (a is None and b is None) or (
                a is not None and b is not None and (a == b or math.isnan(a) and math.isnan(b))
            ), (name, a, b)


def paths_in(tmp: Path) -> RunPaths:
    return RunPaths.of(tmp, "e", "p", "r1")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(samples=samples, every=st.integers(1, 6))
def test_samples_come_back_through_plain_pyarrow(tmp_path_factory, samples, every):
    paths = paths_in(tmp_path_factory.mktemp("store"))
    writer = SystemWriter(paths, segment_samples=every)
    want = []
    for i, vals in enumerate(samples):
        writer.append(sample_table(1e9 + i, float(i), vals))
        want.append((1e9 + i, float(i), vals))
    writer.close()
    same(read_back(paths), want)
    assert not list(paths.system_wal_dir.glob("*.arrows"))  # every WAL compacted and gone
    assert len(list(paths.system_dir.glob("part-*.parquet"))) == -(-len(samples) // every)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(samples=samples.filter(bool), every=st.integers(1, 6))
def test_a_killed_writer_loses_nothing_written_and_recovery_keeps_it(tmp_path_factory, samples,
                                                                   every):
    paths = paths_in(tmp_path_factory.mktemp("store"))
    writer = SystemWriter(paths, segment_samples=every)
    want = []
    for i, vals in enumerate(samples):
        writer.append(sample_table(1e9 + i, float(i), vals))
        want.append((1e9 + i, float(i), vals))
    # No close(): what a kill -9 leaves. The open WAL is readable as it is ...
    frames = [f for w in sorted(paths.system_wal_dir.glob("*.arrows")) for f in read_frames(w)]
    assert len(frames) == len(samples) % every
    # ... and recovery turns it into a segment, idempotently.
    compact_wals(paths)
    compact_wals(paths)
    same(read_back(paths), want)
    assert not list(paths.system_wal_dir.glob("*.arrows"))


def test_a_torn_last_frame_loses_only_that_sample(tmp_path):
    paths = paths_in(tmp_path)
    writer = SystemWriter(paths, segment_samples=100)
    for i in range(5):
        writer.append(sample_table(1e9 + i, float(i), {"system.cpu": float(i)}))
    wal = paths.system_wal_file(0)
    with open(wal, "ab") as f:
        f.write(b"RLW1\x40\x00\x00\x00")  # a crash mid-append: half a header
    compact_wals(paths)
    assert [r["system.cpu"] for r in read_back(paths)] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_wal_whose_segment_exists_is_redundant(tmp_path):
    paths = paths_in(tmp_path)
    writer = SystemWriter(paths, segment_samples=100)
    writer.append(sample_table(1e9, 0.0, {"system.cpu": 1.0}))
    writer._wal.close()
    paths.system_dir.mkdir(parents=True)
    pq.write_table(sample_table(1e9, 0.0, {"system.cpu": 1.0}), paths.system_segment_file(0))
    compact_wals(paths)  # a crash between the rename and the deletion: no duplicate
    assert len(read_back(paths)) == 1
    assert not paths.system_wal_file(0).exists()


def test_a_resumed_writer_goes_on_after_the_files_there(tmp_path):
    paths = paths_in(tmp_path)
    first = SystemWriter(paths, segment_samples=2)
    for i in range(3):
        first.append(sample_table(1e9 + i, float(i), {"system.cpu": float(i)}))
    first.close()
    assert next_seq(paths) == 2
    second = SystemWriter(paths, segment_samples=2)
    second.append(sample_table(2e9, 9.0, {"system.cpu": 9.0}))
    second.close()
    assert [r["system.cpu"] for r in read_back(paths)] == [0.0, 1.0, 2.0, 9.0]


def test_a_failed_segment_write_keeps_the_wal_and_close_retries(tmp_path, monkeypatch):
    from runlake.engine import segment

    paths = paths_in(tmp_path)
    writer = SystemWriter(paths, segment_samples=2)
    real = segment.write_segment
    calls = []

    def failing(table, path, **kw):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(table, path, **kw)

    monkeypatch.setattr(segment, "write_segment", failing)
    writer.append(sample_table(1e9, 0.0, {"system.cpu": 0.0}))
    with pytest.raises(OSError):
        writer.append(sample_table(1e9 + 1, 1.0, {"system.cpu": 1.0}))
    assert len(list(read_frames(paths.system_wal_file(0)))) == 2  # kept, readable
    writer.append(sample_table(1e9 + 2, 2.0, {"system.cpu": 2.0}))  # goes on in WAL 1
    writer.close()
    assert [r["system.cpu"] for r in read_back(paths)] == [0.0, 1.0, 2.0]


def test_recovery_of_a_crashed_run_compacts_its_system_wal(tmp_path):
    paths = paths_in(tmp_path)
    paths.run_dir.mkdir(parents=True)
    paths.meta_file.write_text('{"id": "r1", "state": "running"}', encoding="utf-8")
    writer = SystemWriter(paths)
    writer.append(sample_table(1e9, 0.0, {"system.cpu": 3.0}))
    assert recovery.recover_run(paths)  # no lock holder: the writer is dead
    assert [r["system.cpu"] for r in read_back(paths)] == [3.0]

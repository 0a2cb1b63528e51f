"""wal: framed Arrow IPC; torn tails and corruption lose only the bad frame and what follows."""

from __future__ import annotations

import math
import struct
import zlib

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runlake.engine import wal as wal_module
from runlake.engine.wal import (
    MAGIC,
    WalWriter,
    read_frames,
    truncate_torn_tail,
    valid_length,
)

from tests.engine.util import ipc_bytes

HEADER = 16


def frames_tables():
    return [
        pa.table({"_step": pa.array([0, 1], pa.int64()), "a": [1.5, math.nan]}),
        pa.table({"_step": pa.array([2], pa.int64()), "a": [2.5], "s": pa.array(["x"], pa.large_string())}),
        pa.table({"_step": pa.array([3, 4, 5], pa.int64()), "l": pa.array([[1], [], None], pa.list_(pa.int64()))}),
        pa.table({"_step": pa.array([6], pa.int64()), "b": [True]}),
    ]


def write(path, tables, fsync=False):
    w = WalWriter(path, fsync=fsync)
    offsets = [w.bytes]
    for t in tables:
        w.append(t)
        offsets.append(w.bytes)
    w.close()
    return offsets


def same(a: list[pa.Table], b: list[pa.Table]) -> bool:
    # Table.equals treats NaN as unequal; compare the IPC bytes instead.
    return len(a) == len(b) and all(ipc_bytes(x) == ipc_bytes(y) for x, y in zip(a, b))


def test_frames_round_trip_with_different_schemas(tmp_path):
    path = tmp_path / "wal" / "000000.arrows"
    tables = frames_tables()
    offsets = write(path, tables, fsync=True)
    got = list(read_frames(path))
    assert same(got, tables)
    assert [t.schema for t in got] == [t.schema for t in tables]
    assert offsets[-1] == path.stat().st_size == valid_length(path)
    assert truncate_torn_tail(path) == 0


def test_frame_header(tmp_path):
    """The bytes on disk: header (magic, payload length, CRC-32, rows) + an Arrow IPC stream."""
    path = tmp_path / "w.arrows"
    table = frames_tables()[0]
    write(path, [table])
    frame = path.read_bytes()
    magic, length, crc, rows = struct.unpack_from("<4sIII", frame)
    assert magic == MAGIC == b"RLW1"
    assert length == len(frame) - HEADER
    assert crc == zlib.crc32(frame[HEADER:])
    assert rows == table.num_rows
    back = pa.ipc.open_stream(pa.py_buffer(frame[HEADER:])).read_all()
    assert ipc_bytes(back) == ipc_bytes(table)


def test_writer_appends_to_an_existing_file(tmp_path):
    path = tmp_path / "w.arrows"
    tables = frames_tables()
    write(path, tables[:2])
    w = WalWriter(path)
    assert w.bytes == path.stat().st_size
    w.append(tables[2])
    assert w.rows == tables[2].num_rows
    w.close()
    w.close()  # idempotent
    assert same(list(read_frames(path)), tables[:3])


def test_empty_and_missing_header(tmp_path):
    path = tmp_path / "w.arrows"
    path.write_bytes(b"")
    assert list(read_frames(path)) == [] and valid_length(path) == 0
    path.write_bytes(b"RLW1\x00")
    assert list(read_frames(path)) == []
    assert truncate_torn_tail(path) == 5 and path.read_bytes() == b""


def test_torn_tail_at_every_offset_of_the_last_frame(tmp_path):
    src = tmp_path / "full.arrows"
    tables = frames_tables()
    offsets = write(src, tables)
    data = src.read_bytes()
    path = tmp_path / "torn.arrows"
    last_start = offsets[-2]
    for cut in range(last_start, len(data)):
        path.write_bytes(data[:cut])
        assert same(list(read_frames(path)), tables[:-1]), cut
        assert valid_length(path) == last_start
        assert truncate_torn_tail(path) == cut - last_start
        assert path.read_bytes() == data[:last_start]


def test_torn_tail_at_every_offset_of_every_frame(tmp_path):
    src = tmp_path / "full.arrows"
    tables = frames_tables()
    offsets = write(src, tables)
    data = src.read_bytes()
    path = tmp_path / "torn.arrows"
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        whole = sum(1 for end in offsets[1:] if end <= cut)
        assert same(list(read_frames(path)), tables[:whole]), cut
        assert valid_length(path) == offsets[whole]


@pytest.mark.parametrize("frame", [0, 1, 2, 3])
def test_a_corrupt_payload_byte_stops_reading_at_that_frame(tmp_path, frame):
    src = tmp_path / "full.arrows"
    tables = frames_tables()
    offsets = write(src, tables)
    data = bytearray(src.read_bytes())
    start, end = offsets[frame] + HEADER, offsets[frame + 1]
    for pos in range(start, end, max(1, (end - start) // 37)):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        path = tmp_path / "bad.arrows"
        path.write_bytes(bytes(bad))
        assert same(list(read_frames(path)), tables[:frame]), pos
        assert valid_length(path) == offsets[frame]
        removed = truncate_torn_tail(path)
        assert removed == len(data) - offsets[frame]
        assert path.read_bytes() == bytes(data[: offsets[frame]])


@pytest.mark.parametrize("field", ["magic", "length", "crc", "rows"])
def test_a_corrupt_header_stops_reading_at_that_frame(tmp_path, field):
    src = tmp_path / "full.arrows"
    tables = frames_tables()
    offsets = write(src, tables)
    data = bytearray(src.read_bytes())
    pos = offsets[2] + {"magic": 0, "length": 4, "crc": 8, "rows": 12}[field]
    data[pos] ^= 0x01
    src.write_bytes(bytes(data))
    assert same(list(read_frames(src)), tables[:2])
    assert valid_length(src) == offsets[2]


def test_truncate_then_append_continues_the_log(tmp_path):
    path = tmp_path / "w.arrows"
    tables = frames_tables()
    offsets = write(path, tables[:3])
    with open(path, "r+b") as f:
        f.truncate(offsets[3] - 5)
    assert truncate_torn_tail(path) == offsets[3] - 5 - offsets[2]
    write(path, tables[3:])
    assert same(list(read_frames(path)), tables[:2] + tables[3:])


def test_reading_is_idempotent_and_read_only(tmp_path):
    path = tmp_path / "w.arrows"
    tables = frames_tables()
    write(path, tables)
    before = path.read_bytes()
    first = list(read_frames(path))
    second = list(read_frames(path))
    assert same(first, second) and same(first, tables)
    assert path.read_bytes() == before
    assert truncate_torn_tail(path) == 0 and truncate_torn_tail(path) == 0
    assert path.read_bytes() == before


_value = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.none()
)


@st.composite
def wal_tables(draw):
    n = draw(st.integers(1, 5))
    out = []
    step = 0
    for _ in range(n):
        rows = draw(st.integers(0, 6))
        cols = {"_step": pa.array(range(step, step + rows), pa.int64())}
        step += rows
        for key in draw(st.lists(st.sampled_from("abc"), unique=True, max_size=3)):
            kind = draw(st.sampled_from(["f", "i", "s"]))
            if kind == "f":
                cols[key] = pa.array(draw(st.lists(_value, min_size=rows, max_size=rows)), pa.float64())
            elif kind == "i":
                cols[key] = pa.array(draw(st.lists(st.integers(-(2**63), 2**63 - 1) | st.none(),
                                                   min_size=rows, max_size=rows)), pa.int64())
            else:
                cols[key] = pa.array(draw(st.lists(st.text(max_size=5) | st.none(),
                                                   min_size=rows, max_size=rows)), pa.large_string())
        out.append(pa.table(cols))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=wal_tables(), cut=st.floats(0, 1))
def test_property_torn_wal_recovers_exactly_the_whole_frames(tmp_path, tables, cut):
    path = tmp_path / "p.arrows"
    path.unlink(missing_ok=True)
    offsets = write(path, tables)
    data = path.read_bytes()
    assert same(list(read_frames(path)), tables)
    at = int(cut * len(data))
    path.write_bytes(data[:at])
    whole = sum(1 for end in offsets[1:] if end <= at)
    assert same(list(read_frames(path)), tables[:whole])
    truncate_torn_tail(path)
    assert path.stat().st_size == offsets[whole]
    # recovery is idempotent: a second pass changes nothing and reads the same frames
    assert truncate_torn_tail(path) == 0
    assert same(list(read_frames(path)), tables[:whole])


class FlakyFile:
    """A real WAL file whose writes can fail once (after `fail_after` calls) or be short."""

    def __init__(self, f, fail_after=None, max_write=None):
        self._f = f
        self.calls = 0
        self.fail_after = fail_after
        self.max_write = max_write

    def write(self, data):
        self.calls += 1
        data = memoryview(data).cast("B")
        if self.fail_after is not None and self.calls == self.fail_after + 1:
            self._f.write(data[: len(data) // 2])  # part of it reached the disk
            raise OSError(28, "No space left on device")
        if self.max_write is not None:
            data = data[: self.max_write]
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.mark.parametrize("fail_after", [0, 1])  # fail in the header or in the payload
def test_a_failed_append_does_not_hide_later_frames(tmp_path, monkeypatch, fail_after):
    files = []

    def flaky_open(*args, **kwargs):
        files.append(FlakyFile(open(*args, **kwargs), fail_after=None))  # noqa: SIM115
        return files[-1]

    monkeypatch.setattr(wal_module, "open", flaky_open, raising=False)
    tables = frames_tables()
    path = tmp_path / "w.arrows"
    w = WalWriter(path)
    w.append(tables[0])
    files[0].fail_after, files[0].calls = fail_after, 0
    with pytest.raises(OSError):
        w.append(tables[1])
    files[0].fail_after = None
    w.append(tables[2])   # the retry of a writer cycle: it must stay readable
    w.close()
    assert same(list(read_frames(path)), [tables[0], tables[2]])
    assert w.bytes == path.stat().st_size == valid_length(path)


def test_short_writes_still_write_whole_frames(tmp_path, monkeypatch):
    def short_open(*args, **kwargs):
        return FlakyFile(open(*args, **kwargs), max_write=7)

    monkeypatch.setattr(wal_module, "open", short_open, raising=False)
    tables = frames_tables()
    path = tmp_path / "w.arrows"
    w = WalWriter(path)
    for t in tables:
        w.append(t)
    w.close()
    assert same(list(read_frames(path)), tables)
    assert w.bytes == path.stat().st_size

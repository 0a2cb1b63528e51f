"""The write-ahead log: an append-only file of framed Arrow IPC streams.

Durability contract (docs/FORMAT.md, "Write-ahead log"):
- One writer process appends to a run's current WAL file; readers may read it at any time.
- Each append is one frame: a 16-byte header (magic `RLW1`, payload length, CRC-32 of the
  payload, row count; little-endian u32 each) followed by a complete Arrow IPC stream (schema,
  one record batch, end-of-stream). A frame is self-contained, so the schema may change from
  frame to frame as new keys appear.
- A frame is valid only if it is whole and its CRC matches. Reading stops at the first
  invalid frame: a torn tail (a crash mid-append) loses only that frame, never earlier ones.
- `<seq>.arrows` compacts into `part-<seq>.parquet`; once that segment exists the WAL file is
  redundant and is deleted. Replaying a WAL whose segment exists is therefore never needed,
  which makes recovery idempotent.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from .atomic import sync_dir

MAGIC = b"RLW1"
_HEADER = struct.Struct("<4sIII")


def encode_frame(table: pa.Table) -> tuple[bytes, pa.Buffer]:
    """The frame of a table: its 16-byte header and its payload (not joined: no copy)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=None)
    payload = sink.getvalue()
    header = _HEADER.pack(MAGIC, payload.size, zlib.crc32(payload), table.num_rows)
    return header, payload


class WalWriter:
    """Appends frames to one WAL file. Not thread-safe: the run's writer thread owns it."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fsync = fsync
        self._file = open(path, "ab", buffering=0)
        if fsync:  # the new file's name too, or a machine crash may lose the fsynced frames
            sync_dir(path.parent)
        self.bytes = self._file.tell()
        self.rows = 0
        self._torn = False  # a failed append left bytes after `self.bytes` that must go first

    @property
    def closed(self) -> bool:
        return self._file.closed

    def append(self, table: pa.Table) -> None:
        header, payload = encode_frame(table)
        if self._torn:  # the cut-off after a failed append failed too (a read-only store)
            self._file.truncate(self.bytes)
            self._torn = False
        try:
            for part in (memoryview(header), memoryview(payload)):
                while part:  # an unbuffered write may be short: write the rest
                    part = part[self._file.write(part):]
            if self._fsync:
                os.fsync(self._file.fileno())
        except BaseException:
            # A torn frame would hide every later frame from readers: cut it off, so the
            # writer's retry appends after the last whole frame. If even that fails, the next
            # append cuts it first (appending after it would hide the new frames).
            self._torn = True
            try:
                self._file.truncate(self.bytes)
                self._torn = False
            except OSError:
                pass
            raise
        self.bytes += len(header) + payload.size
        self.rows += table.num_rows

    def close(self) -> None:
        if not self._file.closed:
            try:
                if self._fsync:
                    os.fsync(self._file.fileno())
            finally:  # a failed fsync still lets go of the file
                self._file.close()


def read_frames(path: Path) -> Iterator[pa.Table]:
    """Yield the table of every valid frame, stopping at the first torn or corrupt one."""
    data = path.read_bytes()
    for _, table in _scan(data):
        yield table


def valid_length(path: Path) -> int:
    """Byte length of the valid prefix of a WAL file (where recovery truncates it)."""
    data = path.read_bytes()
    end = 0
    for end, _ in _scan(data):
        pass
    return end


def _scan(data: bytes) -> Iterator[tuple[int, pa.Table]]:
    pos = 0
    size = _HEADER.size
    while pos + size <= len(data):
        magic, length, crc, rows = _HEADER.unpack_from(data, pos)
        start, end = pos + size, pos + size + length
        if magic != MAGIC or end > len(data):
            return
        payload = memoryview(data)[start:end]
        if zlib.crc32(payload) != crc:
            return
        try:
            table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
        except (pa.ArrowInvalid, OSError):
            return
        if table.num_rows != rows:
            return
        yield end, table
        pos = end


def truncate_torn_tail(path: Path) -> int:
    """Cut a WAL file back to its valid prefix; returns the number of bytes removed."""
    size = path.stat().st_size
    keep = valid_length(path)
    if keep < size:
        with open(path, "r+b") as f:
            f.truncate(keep)
    return size - keep

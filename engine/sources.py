"""The one reader of a stream's durable files: sealed segments, then WAL files not yet sealed.

docs/FORMAT.md: WAL file `<seq>` compacts into `part-<seq>.parquet`, published before the WAL
file is deleted; a WAL file whose segment exists is redundant and ignored; a reader stops at
a WAL's first invalid frame (a torn tail); hidden `.tmp-*` files are never read. Steps (and
system samples' times) grow with `<seq>`, so sources in sequence order are rows in order.

A compactor (the run's writer, recovery) may seal and delete a WAL file at any moment, even
between our listing and our read. The rules that make a snapshot lose and duplicate nothing:
- WAL files are listed before segments, so a WAL sealed between the two listings shows up as
  its segment in the second and is not read twice;
- a WAL read is whole or fails with FileNotFoundError (it was deleted: its segment exists),
  and then the folder is listed again, going on after the last source already read;
- WAL frames are read into memory at snapshot time (a WAL holds about `segment_bytes`);
  segments are only opened for their footers, to be read later (segments are never deleted
  but by a rewind or a delete, which take the run's lock).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from .layout import RunPaths
from .wal import read_frames

_SEGMENT_NAME = re.compile(r"part-(\d{6,})\.parquet")
_WAL_NAME = re.compile(r"(\d{6,})\.arrows")
MAX_RELISTS = 100  # a WAL vanishes only once its segment exists: each retry progresses


@dataclass(frozen=True)
class Source:
    """One durable file of a stream: a compacted segment or an uncompacted WAL file."""

    seq: int
    path: Path
    kind: Literal["segment", "wal"]


@dataclass(frozen=True)
class Part:
    """A source as a snapshot holds it: its schemas and rows, and a WAL's frames, read."""

    source: Source
    schemas: tuple[pa.Schema, ...]
    rows: int
    frames: tuple[pa.Table, ...] = ()  # a WAL's frames; a segment is read on demand
    footer: pq.FileMetaData | None = None  # a segment's, read once: opening it again reuses it

    @property
    def is_segment(self) -> bool:
        return self.source.kind == "segment"

    def read(self, columns: Sequence[str] | None = None) -> list[pa.Table]:
        """The part's rows (those of `columns` it has): a segment's table, or a WAL's frames."""
        if self.is_segment:
            with pq.ParquetFile(self.source.path, metadata=self.footer) as pf:  # no partition columns
                have = pf.schema_arrow.names
                return [pf.read(columns=None if columns is None else
                                [c for c in columns if c in have])]
        if columns is None:
            return list(self.frames)
        return [f.select([c for c in columns if c in f.column_names]) for f in self.frames]


def _listing(folder: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {int(m.group(1)): folder / name for name in names if (m := pattern.fullmatch(name))}


def list_sources(segment_dir: Path, wal_dir: Path) -> list[Source]:
    """A stream's durable files in sequence order: every `part-<seq>.parquet` in
    `segment_dir`, and every `<seq>.arrows` in `wal_dir` that has no segment."""
    wals = _listing(wal_dir, _WAL_NAME)  # first: see the module docstring
    segments = _listing(segment_dir, _SEGMENT_NAME)
    found = [Source(seq, path, "segment") for seq, path in segments.items()]
    found += [Source(seq, path, "wal") for seq, path in wals.items() if seq not in segments]
    return sorted(found, key=lambda s: s.seq)


def snapshot(segment_dir: Path, wal_dir: Path) -> list[Part]:
    """Every durable source of a stream, in sequence order, each exactly once."""
    parts: list[Part] = []
    for attempt in itertools.count():
        try:
            for src in list_sources(segment_dir, wal_dir):
                if parts and src.seq <= parts[-1].source.seq:
                    continue  # read before a re-listing
                parts.append(_part(src))
            return parts
        except FileNotFoundError:
            if attempt >= MAX_RELISTS:
                raise
    raise AssertionError("unreachable")


def _part(src: Source) -> Part:
    if src.kind == "segment":
        meta = pq.read_metadata(src.path)
        return Part(src, (meta.schema.to_arrow_schema(),), meta.num_rows, footer=meta)
    frames = tuple(read_frames(src.path))
    return Part(src, tuple(f.schema for f in frames), sum(f.num_rows for f in frames), frames)


def history(paths: RunPaths) -> list[Part]:
    """A run's history sources (`history/` segments, `runs/.../wal/`)."""
    return snapshot(paths.history_dir, paths.wal_dir)


def system(paths: RunPaths) -> list[Part]:
    """A run's system-metrics sources (`system/` segments, `runs/.../system-wal/`)."""
    return snapshot(paths.system_dir, paths.system_wal_dir)

"""The system-metrics stream: samples of a run's machine, a second stream beside history.

Durability contract (docs/FORMAT.md, "System metrics and console"):
- One writer (the run's sampler thread) appends each sample as one frame to
  `runs/.../system-wal/<seq>.arrows`, in the write-ahead log's framing (engine/wal.py), so a
  killed process loses at most the sample being taken.
- Every `segment_samples` samples, and at `close()`, the samples of WAL `<seq>` are written
  as `system/.../part-<seq>.parquet` (temporary name, then rename) and the WAL file deleted.
  As for history, a WAL file whose segment exists is redundant: readers and recovery ignore
  it, so a crash between the rename and the deletion never duplicates a sample.
- Rows: `_timestamp` (Unix seconds), `_runtime` (seconds since the run started), then one
  float64 column per metric. Columns may differ between samples (a metric that could not be
  read is left out); segments are unified by name.

The engine knows nothing of what a metric means: the SDK's sampler names and measures them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import segment
from .kinds import from_numpy
from .layout import RUNTIME, TIMESTAMP, RunPaths, seq_of
from .atomic import TMP_PREFIX
from .union import SYSTEM_BASE, combine
from .wal import WalWriter, read_frames

SEGMENT_SAMPLES = 360  # an hour at the default 10 s interval: a few hundred KB of WAL at most
_TMP = TMP_PREFIX


def sample_table(timestamp: float, runtime: float, values: Mapping[str, float | None]) -> pa.Table:
    """One sample as a one-row table: `_timestamp`, `_runtime`, then the metrics as float64."""
    # From numpy buffers, not pa.array(list): that imports pandas (half a second, ~50 MB)
    # in a background thread that shares the GIL with training.
    names = [TIMESTAMP, RUNTIME, *values]
    columns = [_one(timestamp), _one(runtime)]
    columns += [pa.nulls(1, pa.float64()) if v is None else _one(v) for v in values.values()]
    return pa.table(columns, names=names)


def _one(value: float) -> pa.Array:
    return from_numpy(np.array([float(value)], dtype=np.float64))


class SystemWriter:
    """Appends samples to a run's system stream. Not thread-safe: one sampler thread owns it.

    Raises OSError (disk full, read-only store) to its caller, which decides how to report it;
    a failed append leaves the WAL file as it was (engine/wal.py cuts a torn frame off).
    """

    def __init__(self, paths: RunPaths, *, segment_samples: int = SEGMENT_SAMPLES,
                 fsync: bool = False) -> None:
        if segment_samples < 1:
            raise ValueError(f"segment_samples must be >= 1, got {segment_samples}")
        self.paths = paths
        self.segment_samples = segment_samples
        self.samples = 0  # appended by this writer
        self._fsync = fsync
        self._seq = next_seq(paths)  # a resumed run goes on after its earlier files
        self._wal: WalWriter | None = None
        self._pending: list[pa.Table] = []  # the samples of the open WAL file, for compaction

    def append(self, table: pa.Table) -> None:
        if self._wal is None:
            self._wal = WalWriter(self.paths.system_wal_file(self._seq), fsync=self._fsync)
        self._wal.append(table)
        self._pending.append(table)
        self.samples += table.num_rows
        if len(self._pending) >= self.segment_samples:
            self._compact()

    def _compact(self) -> None:
        if self._wal is None:
            return
        wal, pending, seq = self._wal, self._pending, self._seq
        # Move on first: if writing the segment fails, WAL <seq> keeps every sample (readers
        # read it, close() retries it) and the next sample starts WAL <seq + 1>.
        self._wal, self._pending, self._seq = None, [], seq + 1
        wal.close()
        if pending:
            table = combine(pending, SYSTEM_BASE)
            segment.write_segment(table, self.paths.system_segment_file(seq), fsync=self._fsync)
        wal.path.unlink(missing_ok=True)  # redundant once the segment is in place

    def close(self) -> None:
        """Publish the open WAL file, and any an earlier failure left, as segments."""
        self._compact()
        compact_wals(self.paths)


def next_seq(paths: RunPaths) -> int:
    """The first sequence number neither a system segment nor a system WAL file uses."""
    used = [seq_of(p) for p in segment.list_segments(paths.system_dir)]
    used += [seq_of(p) for p in _listdir(paths.system_wal_dir) if p.suffix == ".arrows"]
    return max(used, default=-1) + 1


def compact_wals(paths: RunPaths) -> int:
    """A dead writer's system WAL files become segments (valid frames only), then go; the
    number of files handled. The caller owns the run (engine/recovery.py)."""
    for tmp in _listdir(paths.system_dir):
        if tmp.name.startswith(_TMP) and tmp.is_file():
            tmp.unlink(missing_ok=True)
    handled = 0
    for wal in sorted((p for p in _listdir(paths.system_wal_dir) if p.suffix == ".arrows"),
                      key=seq_of):
        target = paths.system_segment_file(seq_of(wal))
        if not target.exists():
            frames = list(read_frames(wal))
            if frames:
                table = combine(frames, SYSTEM_BASE)
                segment.write_segment(table, target, fsync=True)
        wal.unlink()
        handled += 1
    return handled


def _listdir(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []

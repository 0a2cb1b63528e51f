"""System metrics as the read side sees them: a run's `system/` segments, and the samples of
a live (or crashed, not yet recovered) run still only in its `runs/.../system-wal/` files.

As for history (query/history.py), a WAL file whose segment exists is redundant and never
read, and a WAL compacted between listing and reading is found again as its segment by
listing anew. Rows come back in `_timestamp` order under one schema (columns unified by
name: a sample may lack a metric another has).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from runlake.engine.layout import PARTITION_KEYS, RUNTIME, TIMESTAMP, RunPaths, is_valid_name
from runlake.engine.wal import read_frames

from .history import stream_sources

BASE = (TIMESTAMP, RUNTIME)
_MAX_RELISTS = 100
_EMPTY = pa.schema([(TIMESTAMP, pa.float64()), (RUNTIME, pa.float64())])


def _read(paths: RunPaths) -> tuple[list[Path], list[pa.Table]]:
    """(segment files, tables read from WAL files): a snapshot of the run's system stream."""
    for attempt in itertools.count():
        segments: list[Path] = []
        tables: list[pa.Table] = []
        try:
            for src in stream_sources(paths.system_dir, paths.system_wal_dir):
                if src.kind == "segment":
                    segments.append(src.path)
                else:
                    tables.extend(read_frames(src.path))
            return segments, tables
        except FileNotFoundError:  # compacted between listing and reading: list again
            if attempt >= _MAX_RELISTS:
                raise
    return [], []  # (not reached: the loop returns or raises)


def read_table(paths: RunPaths, keys: Sequence[str] | None = None) -> pa.Table:
    """Every durable sample of a run, in time order: `_timestamp`, `_runtime`, and the metrics
    (only those of `keys` the run has, with `keys`)."""
    segments, tables = _read(paths)
    tables = [pq.read_table(p, partitioning=None) for p in segments] + tables
    if not tables:
        return _EMPTY.empty_table()
    table = pa.concat_tables(tables, promote_options="permissive")
    if keys is not None:
        table = table.select([c for c in dict.fromkeys([*BASE, *keys]) if c in table.column_names])
    return table.sort_by(TIMESTAMP)


def rows_with_keys(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """The rows where every key has a value (wandb's `history(keys=...)`); if a key is not in
    the stream, no rows."""
    if any(k not in table.column_names for k in keys):
        return table.slice(0, 0)
    mask = None
    for k in dict.fromkeys(keys):
        present = pc.is_valid(table.column(k))
        mask = present if mask is None else pc.and_(mask, present)
    return table if mask is None else table.filter(mask)


def _names(folder: Path, key: str) -> list[str]:
    try:
        entries = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix = f"{key}="
    return [n[len(prefix):] for n in entries
            if n.startswith(prefix) and is_valid_name(n[len(prefix):])]


def store_runs(root: Path) -> list[RunPaths]:
    """Every run with a system stream: a `system/` folder, or system WAL files."""
    found: set[tuple[str, str, str]] = set()
    for top in ("system", "runs"):
        for e in _names(root / top, "entity"):
            for p in _names(root / top / f"entity={e}", "project"):
                for r in _names(root / top / f"entity={e}" / f"project={p}", "run_id"):
                    found.add((e, p, r))
    runs = [RunPaths(root, *key) for key in sorted(found)]
    return [r for r in runs if r.system_dir.is_dir() or r.system_wal_dir.is_dir()]


def store_snapshot(root: Path) -> tuple[list[Path], pa.Table | None]:
    """For the SQL view `system`: every system segment of the store, and the WAL-only samples
    of every run as one table with `entity`, `project`, `run_id` columns (None if none)."""
    files: list[Path] = []
    live: list[pa.Table] = []
    for paths in store_runs(root):
        segments, tables = _read(paths)
        files += segments
        if tables:
            table = pa.concat_tables(tables, promote_options="permissive")
            n = table.num_rows
            for name, value in zip(PARTITION_KEYS, (paths.entity, paths.project, paths.run_id)):
                table = table.append_column(name, pa.array([value] * n, pa.string()))
            live.append(table)
    return files, (pa.concat_tables(live, promote_options="permissive") if live else None)

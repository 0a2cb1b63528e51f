"""System metrics as the read side sees them: a run's `system/` segments, and the samples of
a live (or crashed, not yet recovered) run still only in its `runs/.../system-wal/` files.

The files are read as history's are, by the engine's one reader (engine/sources.py: a WAL
whose segment exists is never read, one compacted between listing and reading is found again
as its segment) under the one union rule (engine/union.py). Rows come back in `_timestamp`
order under one schema (a sample may lack a metric another has).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from runlake.engine import sources
from runlake.engine.layout import PARTITION_KEYS, RUNTIME, TIMESTAMP, RunPaths, is_valid_name
from runlake.engine.union import SYSTEM_BASE, Union, runs

BASE = (TIMESTAMP, RUNTIME)


def _tables(parts: list[sources.Part], keys: Sequence[str] | None = None) -> pa.Table | None:
    """The parts' rows under their union (engine/union.py), in `_timestamp` order; None if
    they have no rows."""
    union = Union.of((s for p in parts for s in p.schemas), SYSTEM_BASE)
    schema = union.schema(keys)
    tables = [union.conform_table(t, schema) for p in parts for t in runs(p.read())]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    return pa.concat_tables(tables).sort_by(TIMESTAMP)


def read_table(paths: RunPaths, keys: Sequence[str] | None = None) -> pa.Table:
    """Every durable sample of a run, in time order: `_timestamp`, `_runtime`, and the metrics
    (only those of `keys` the run has, with `keys`)."""
    table = _tables(sources.system(paths), keys)
    return pa.schema(list(SYSTEM_BASE)).empty_table() if table is None else table


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
        parts = sources.system(paths)
        files += [p.source.path for p in parts if p.is_segment]
        table = _tables([p for p in parts if not p.is_segment])
        if table is not None:
            n = table.num_rows
            for name, value in zip(PARTITION_KEYS, (paths.entity, paths.project, paths.run_id)):
                table = table.append_column(name, pa.array([value] * n, pa.string()))
            live.append(table)
    return files, (pa.concat_tables(live, promote_options="permissive") if live else None)

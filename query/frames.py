"""Many runs' histories at once: as a polars LazyFrame, and the live rows still in WAL files.

Every frame has the partition columns `entity`, `project`, `run_id` beside the history
columns. Segment files are scanned lazily with the union of their schemas (polars would
otherwise take the first file's); rows of live runs that are only in the write-ahead log
are read now and added, so a run being logged is visible up to its last durable frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from runlake.engine.layout import RunPaths
from runlake.engine.segment import list_segments

from . import history as _history


def _with_partition(table: pa.Table, paths: RunPaths) -> pa.Table:
    n = table.num_rows
    for name, value in (("entity", paths.entity), ("project", paths.project), ("run_id", paths.run_id)):
        table = table.append_column(name, pa.repeat(pa.scalar(value, pa.string()), n).cast(pa.string()))
    return table


def live_history(root: Path, runs: Sequence[RunPaths]) -> pa.Table | None:
    """Rows of these runs that are durable in a WAL but not yet in a segment (None if none)."""
    tables = []
    for paths in runs:
        live = _history.wal_table(paths)
        if live is not None and live.num_rows:
            tables.append(_with_partition(live, paths))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def histories_lazy(runs: Sequence[RunPaths], keys: Sequence[str] | None = None):  # -> pl.LazyFrame
    import polars as pl

    files = [str(f) for paths in runs for f in list_segments(paths.history_dir)]
    frames = []
    if files:
        schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
        polars_schema = dict(pl.from_arrow(schema.empty_table()).schema)
        lazy = pl.scan_parquet(
            files, schema=polars_schema, hive_partitioning=True,
            hive_schema={"entity": pl.String, "project": pl.String, "run_id": pl.String},
            missing_columns="insert", extra_columns="ignore",
            cast_options=pl.ScanCastOptions(integer_cast="upcast", float_cast="upcast"),
        )
        frames.append(lazy)
    live = live_history(runs[0].root if runs else Path("."), runs)
    if live is not None:
        frames.append(pl.from_arrow(live).lazy())
    if not frames:
        return pl.LazyFrame(schema={"entity": pl.String, "project": pl.String, "run_id": pl.String,
                                    "_step": pl.Int64, "_runtime": pl.Float64, "_timestamp": pl.Float64})
    lazy = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    if keys is not None:
        base = ["entity", "project", "run_id", "_step", "_runtime", "_timestamp"]
        have = set(lazy.collect_schema().names())
        lazy = lazy.select([c for c in dict.fromkeys([*base, *keys]) if c in have])
    return lazy

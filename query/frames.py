"""Many runs' histories at once: as a polars LazyFrame, and the live rows still in WAL files.

Every frame has the partition columns `entity`, `project`, `run_id` beside the history
columns. Segment files are scanned lazily under the union of their schemas, taken from the
segment index (polars would otherwise take the first file's, and opening every footer costs
more than the scan for small runs); rows of live runs that are only in the write-ahead log are
read now and added, so a run being logged is visible up to its last durable frame.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from runlake.engine.layout import PARTITION_KEYS, RunPaths
from runlake.engine.union import renamed

from . import arrays
from .catalog import empty
from . import history as _history

BASE = ("entity", "project", "run_id", *_history.BASE)


def _with_partition(table: pa.Table, paths: RunPaths) -> pa.Table:
    n = table.num_rows
    for name, value in zip(PARTITION_KEYS, (paths.entity, paths.project, paths.run_id)):
        table = table.append_column(name, arrays.repeat(value, n))
    return table


def live_history(runs: Sequence[RunPaths],
                 known: Collection[Path] | None = None) -> pa.Table | None:
    """Rows of these runs that are durable in a WAL but not yet in a segment (None if none);
    with `known`, the segment files the caller reads, also the rows of segments that were
    published since the caller listed them (see history.wal_table)."""
    tables = []
    for paths in runs:
        live = _history.wal_table(paths, known)
        if live is not None and live.num_rows:
            tables.append(_with_partition(live, paths))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def histories_lazy(files: Sequence[tuple[Path, pa.Schema]], live: Sequence[RunPaths],
                   keys: Sequence[str] | None = None,
                   renames: Mapping[pa.Schema, Mapping[str, str]] | None = None,
                   ):  # -> pl.LazyFrame
    """A LazyFrame over these segment files (path, schema) and the WAL rows of `live` runs;
    files of a schema in `renames` read those columns under the new names
    (engine/union.store_renames: runs written before key families were store-wide)."""
    import polars as pl

    renames = renames or {}
    frames = []
    if files:
        union = _history.union_schema([renamed(s, renames.get(s, {})) for _, s in files], None)
        moved: dict[tuple[tuple[str, str], ...], list[tuple[Path, pa.Schema]]] = {}
        for f, s in files:
            if renames.get(s):
                moved.setdefault(tuple(sorted(renames[s].items())), []).append((f, s))
        files = [(f, s) for f, s in files if not renames.get(s)]
        for pairs, group in moved.items():
            by_schema: dict[pa.Schema, list[Path]] = {}
            for f, s in group:
                by_schema.setdefault(s, []).append(f)
            # One scan per schema: polars widens no bool in a scan (see `others` below).
            frames += [_scan_renamed(pl, paths, s, dict(pairs), union)
                       for s, paths in by_schema.items()]
        direct = [str(f) for f, s in files if _scans_as(s, union)]
        if direct:  # one scan; polars inserts missing columns and casts int to float
            frames.append(_scan(pl, direct, union, pl.ScanCastOptions(integer_cast="allow-float")))
        others: dict[pa.Schema, list[str]] = {}
        for f, s in files:
            if not _scans_as(s, union):
                others.setdefault(s, []).append(str(f))
        for schema, paths in others.items():  # a widening polars will not do in a scan (bool)
            names = [n for n in schema.names if n in union.names]
            frames.append(_scan(pl, paths, pa.schema([schema.field(n) for n in names]), None)
                          .with_columns(_cast(pl, n, union.field(n).type) for n in names))
    wal = live_history(live, {f for f, _ in files})
    if wal is not None:
        frames.append(pl.from_arrow(wal).lazy())
    if not frames:
        return pl.LazyFrame(schema={"entity": pl.String, "project": pl.String, "run_id": pl.String,
                                    "_step": pl.Int64, "_runtime": pl.Float64, "_timestamp": pl.Float64})
    lazy = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    if keys is not None:
        have = set(lazy.collect_schema().names())
        lazy = lazy.select([c for c in dict.fromkeys([*BASE, *keys]) if c in have])
    return lazy


def _scans_as(schema: pa.Schema, union: pa.Schema) -> bool:
    """Whether a scan under `union` reads this file: same types, or int where union has float."""
    for f in schema:
        i = union.get_field_index(f.name)
        if i >= 0 and f.type != union.field(i).type and not (
            pa.types.is_integer(f.type) and pa.types.is_floating(union.field(i).type)
        ):
            return False
    return True


def _scan(pl, paths: list[str], schema: pa.Schema, cast):  # -> pl.LazyFrame
    return pl.scan_parquet(
        paths, schema=dict(pl.from_arrow(empty(schema)).schema), hive_partitioning=True,
        hive_schema={"entity": pl.String, "project": pl.String, "run_id": pl.String},
        missing_columns="insert", extra_columns="ignore", cast_options=cast,
        glob=False,  # the paths are files: a store path holding [ ] * ? is not a pattern
    )


# The path column of a renamed scan: a name no logged key can have (log() refuses NUL).
_FILE_COLUMN = "runlake\x00file"


def _scan_renamed(pl, files: list[Path], schema: pa.Schema, renames: dict[str, str],
                  union: pa.Schema):  # -> pl.LazyFrame
    """Files of one schema and set of renames, read without Hive partitioning (a file column
    named like a partition would hide behind it), the partitions taken from each path."""
    schema = pa.schema([f for f in schema if not pa.types.is_null(f.type)])
    lazy = pl.scan_parquet(
        [str(f) for f in files], schema=dict(pl.from_arrow(empty(schema)).schema),
        hive_partitioning=False, missing_columns="insert", extra_columns="ignore",
        include_file_paths=_FILE_COLUMN, glob=False,
    ).rename(renames)
    pattern = r"/entity=([^/]*)/project=([^/]*)/run_id=([^/]*)/[^/]*$"
    path = pl.col(_FILE_COLUMN)
    names = [renames.get(n, n) for n in schema.names]
    return lazy.select(
        *(path.str.extract(pattern, i).alias(k) for i, k in enumerate(PARTITION_KEYS, 1)),
        *(_cast(pl, n, union.field(n).type) for n in names if n in union.names),
    )


def _cast(pl, name: str, t: pa.DataType):  # -> pl.Expr
    return pl.col(name).cast(pl.from_arrow(pa.nulls(0, t)).dtype)

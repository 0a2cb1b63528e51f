"""Parquet history segments: the writer options, and atomic publication.

A segment is written to a hidden temporary name in its partition folder and renamed into
place, so a reader never sees half a file (the glob `*.parquet` does not match `.tmp-*`).

Writer options were chosen by measurement (benchmarks/parquet_options.py, docs/DESIGN.md):
zstd; dictionary encoding only for string columns (on float metrics it makes files larger
and writes slower); plain encoding by default, because fastparquet cannot read
BYTE_STREAM_SPLIT. `compact=True` opts into BYTE_STREAM_SPLIT for float columns: smaller
files that pyarrow, polars, DuckDB and Spark read, but fastparquet does not.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 256 * 1024


def writer_options(schema: pa.Schema, compact: bool = False) -> dict[str, object]:
    strings = [_leaf_path(f) for f in schema if _is_stringy(f.type)]
    options: dict[str, object] = {
        "compression": "zstd",
        "use_dictionary": strings,
        "write_statistics": True,
    }
    if compact:
        floats = [f.name for f in schema if pa.types.is_floating(f.type)]
        if floats:
            options["use_byte_stream_split"] = floats
    return options


def _leaf_path(f: pa.Field) -> str:
    # The option matches Parquet leaf paths: a list's values are `<name>.list.element`.
    if pa.types.is_list(f.type) or pa.types.is_large_list(f.type):
        return f"{f.name}.list.element"
    return f.name


def _is_stringy(t: pa.DataType) -> bool:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def write_segment(
    table: pa.Table, path: Path, *, compact: bool = False, fsync: bool = False
) -> Path:
    """Write `table` to `path` atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        pq.write_table(
            table, tmp, row_group_size=ROW_GROUP_ROWS, **writer_options(table.schema, compact)
        )
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def list_segments(history_dir: Path) -> list[Path]:
    if not history_dir.is_dir():
        return []
    return sorted(p for p in history_dir.glob("part-*.parquet"))


def read_segments(history_dir: Path) -> pa.Table | None:
    """All of a run's compacted history as one table (schemas unified by name)."""
    tables = [pq.read_table(p) for p in list_segments(history_dir)]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")

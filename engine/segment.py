"""Parquet history segments: the writer options, and atomic publication.

A segment is written to a hidden temporary name in its partition folder and renamed into
place, so a reader never sees half a file (the glob `*.parquet` does not match `.tmp-*`).
`SegmentWriter` streams a segment while its write-ahead log fills, one row group at a time,
so compaction holds no more than a row group in memory; `write_segment` writes a whole table.

Writer options were chosen by measurement (benchmarks/parquet_options.py, docs/DESIGN.md):
zstd; dictionary encoding only for string columns (on float metrics it makes files larger
and writes slower); plain encoding by default, because fastparquet cannot read
BYTE_STREAM_SPLIT. `compact=True` opts into BYTE_STREAM_SPLIT for float columns: smaller
files that pyarrow, polars, DuckDB and Spark read, but fastparquet does not.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import atomic

ROW_GROUP_ROWS = 256 * 1024
ROW_GROUP_BYTES = 8 << 20  # Arrow bytes gathered before a row group is written


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
    # With fsync the rename is synced too: the WAL file is deleted next, trusting the segment.
    with atomic.replacing(path, fsync=fsync) as tmp:
        pq.write_table(
            table, tmp, row_group_size=ROW_GROUP_ROWS, **writer_options(table.schema, compact)
        )
    return path


class SegmentWriter:
    """One segment written incrementally; it appears at `path` only when `close()` succeeds.

    Every table written must fit the schema it was opened with (`accepts`): columns it lacks
    are written as nulls; a table with a new column or another type needs a new segment.
    """

    def __init__(self, path: Path, schema: pa.Schema, *, compact: bool = False,
                 fsync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = schema
        self.rows = 0
        self._fsync = fsync
        self._tmp = atomic.tmp_name(path)
        self._writer = pq.ParquetWriter(self._tmp, schema, **writer_options(schema, compact))
        self._parts: list[pa.Table] = []
        self._part_rows = 0
        self._part_bytes = 0

    def accepts(self, schema: pa.Schema) -> bool:
        return all(
            (i := self.schema.get_field_index(f.name)) >= 0 and self.schema.field(i).type == f.type
            for f in schema
        )

    def write(self, table: pa.Table) -> None:
        if table.schema != self.schema:
            table = pa.table(
                [table.column(f.name) if f.name in table.column_names
                 else pa.nulls(table.num_rows, f.type) for f in self.schema],
                schema=self.schema,
            )
        self._parts.append(table)
        self._part_rows += table.num_rows
        self._part_bytes += table.nbytes
        self.rows += table.num_rows
        if self._part_rows >= ROW_GROUP_ROWS or self._part_bytes >= ROW_GROUP_BYTES:
            self._write_row_group()

    def _write_row_group(self) -> None:
        if self._parts:
            table = pa.concat_tables(self._parts) if len(self._parts) > 1 else self._parts[0]
            self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self._parts, self._part_rows, self._part_bytes = [], 0, 0

    def close(self) -> Path:
        try:
            self._write_row_group()
            self._writer.close()
            atomic.publish(self._tmp, self.path, fsync=self._fsync)
        finally:
            self.abort()
        return self.path

    def abort(self) -> None:
        """Drop the unpublished file (the rows stay in the write-ahead log).

        Never raises: on a full or read-only disk closing the file fails too, and the caller
        is already handling the error that made it give up (readers ignore `.tmp-*` files).
        """
        try:
            if self._writer.is_open:
                self._writer.close()
        except OSError:
            pass
        try:
            self._tmp.unlink(missing_ok=True)
        except OSError:
            pass


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

"""Export histories to one Parquet or CSV file: `Api.export(path, dest, format, filters)`.

The file has the partition columns `entity`, `project`, `run_id`, then `_step`, `_runtime`,
`_timestamp`, then every other history column of every exported run (the union of their
schemas, in order of first appearance), under the format's one schema rule (engine/union.py):
a key with different types in different runs gets the wider type of its family (bool < int64
< float64, list<int64> < list<float64>), and a type of another family (a number in one run, a
string in another) goes to the sibling column `<key>@<family>`, as if one run had logged
them all (docs/FORMAT.md, "Schema evolution"): nothing is coerced. In CSV, list columns
are JSON text (`[1, 2]`, `["a", "b"]`). A logged key named like a partition column (`entity`,
`project`, `run_id`) is exported as `_<name>` (keys starting with `_` are reserved, so this
cannot clash with another key).

Runs are streamed one at a time, in bounded batches: the union schema comes first from
the runs' segment footers and write-ahead logs, then each run's rows are read, conformed to
it and written. The file is written under a hidden temporary name beside `dest` and renamed
into place at the end, so a failed export leaves no partial file. A run still being logged
is exported as far as it is durable when its turn comes; a column it starts logging after the
schema was taken is left out.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from runlake.errors import RunNotFoundError
from runlake.engine import sources
from runlake.engine.atomic import replacing
from runlake.engine.layout import PARTITION_KEYS, RUNTIME, STEP, TIMESTAMP, RunPaths
from runlake.engine.union import Union

from . import history as _history

if TYPE_CHECKING:
    from .api import Api

FORMATS = {".parquet": "parquet", ".csv": "csv"}
BATCH_ROWS = 64 * 1024  # rows read from a run at a time
WRITE_ROWS = 256 * 1024  # rows gathered (across runs) before a Parquet row group is written
WRITE_BYTES = 64 << 20  # ... or this many Arrow bytes

_BASE = pa.schema([(k, pa.string()) for k in PARTITION_KEYS]
                  + [(STEP, pa.int64()), (RUNTIME, pa.float64()), (TIMESTAMP, pa.float64())])


def export(api: Api, path: str, dest: Path, format: str | None = None,  # noqa: A002
           filters: Mapping[str, Any] | None = None, *, progress: TextIO | None = None) -> Path:
    """Write the histories of `path` (a project, or one run) to `dest`; returns `dest`.

    `progress` is where the progress bar goes (default: stderr, only if it is a terminal).
    """
    dest = Path(dest)
    if dest.is_dir():
        raise ValueError(f"export destination {str(dest)!r} is a folder; give a file name")
    fmt = _format(dest, format)
    runs = _select(api, path, filters)

    # Pass 1: the union schema and the row count, from footers and WAL frames only.
    union = Union([(f.name, f.type) for f in _BASE])  # the partition and step columns keep their documented types
    total_rows = 0
    for paths in runs:
        for part in sources.history(paths):
            total_rows += part.rows
            for s in part.schemas:
                union.add(_renamed(s))
    schema = union.schema()
    out_schema = schema if fmt == "parquet" else pa.schema(
        [pa.field(f.name, pa.string()) if _is_nested(f.type) else f for f in schema])

    # Pass 2: stream the rows, run by run, into a temporary file renamed at the end.
    dest.parent.mkdir(parents=True, exist_ok=True)
    bar = _Progress(total_rows, len(runs), progress)
    try:
        with replacing(dest) as tmp, _Writer(tmp, fmt, out_schema) as writer:
            for paths in runs:
                for table in _run_tables(paths):
                    table = _conform(table, paths, union, schema)
                    if out_schema is not schema:  # CSV: lists as JSON text
                        table = pa.table([_cast(c, f.type) for c, f in zip(table.columns, out_schema)],
                                         schema=out_schema)
                    writer.write(table)
                    bar.add(rows=table.num_rows)
                bar.add(runs=1)
    finally:
        bar.close()
    return dest


def _format(dest: Path, format: str | None) -> str:  # noqa: A002
    if format is not None:
        fmt = format.lower().lstrip(".")
        if fmt not in FORMATS.values():
            raise ValueError(f"unknown export format {format!r}: use 'parquet' or 'csv'")
        return fmt
    fmt = FORMATS.get(dest.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot tell the export format from {dest.name!r}: name the file .parquet or "
            ".csv, or pass format='parquet' or 'csv'"
        )
    return fmt


def _select(api: Api, path: str, filters: Mapping[str, Any] | None) -> list[RunPaths]:
    """The runs to export, oldest first. "a/b" is entity/project if that project exists,
    else project/run_id in the default entity (as `api.runs` and `api.run` read it)."""
    parts = [p for p in str(path).split("/") if p]
    as_run = len(parts) == 3 or (
        len(parts) == 2 and not filters
        and not any(p.name == parts[1] for p in api.projects(parts[0]))
    )
    if not as_run:
        runs: Iterable[Any] = api.runs(path, filters=filters, order="+created_at")
    else:
        if filters:
            raise ValueError(f"filters select runs of a project; {path!r} names one run")
        try:
            runs = [api.run(path)]
        except RunNotFoundError:
            if len(parts) == 2:  # neither a project nor a run: say both
                raise RunNotFoundError(
                    f"{path!r} is neither a project (entity/project) nor a run (project/run_id) "
                    f"in store {api.root}"
                ) from None
            raise
    return [api._paths(r.entity, r.project, r.id) for r in runs]


def _run_tables(paths: RunPaths) -> Iterable[pa.Table]:
    for batch in _history.iter_batches(paths, page_size=BATCH_ROWS):
        if batch.num_rows:
            yield pa.Table.from_batches([batch])


def _column_name(name: str) -> str:
    return f"_{name}" if name in PARTITION_KEYS else name


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _is_nested(t: pa.DataType) -> bool:
    return _is_list(t) or pa.types.is_struct(t)


def _renamed(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(_column_name(f.name), f.type) for f in schema])


def _conform(table: pa.Table, paths: RunPaths, union: Union, schema: pa.Schema) -> pa.Table:
    """`table` (one run's rows) with the partition columns, in `schema`'s columns and types."""
    table = union.conform_table(table.rename_columns(_renamed(table.schema).names), schema)
    values = dict(zip(PARTITION_KEYS, (paths.entity, paths.project, paths.run_id)))
    for name, value in values.items():
        i = schema.get_field_index(name)
        table = table.set_column(i, schema.field(i),
                                 pa.repeat(pa.scalar(value, pa.string()), table.num_rows))
    return table


def _cast(column: pa.ChunkedArray, t: pa.DataType) -> pa.ChunkedArray | pa.Array:
    if column.type == t:
        return column
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if _is_nested(column.type):  # JSON text: CSV has no lists or structs (media references)
            return pa.array([None if v is None else json.dumps(v, ensure_ascii=False)
                             for v in column.to_pylist()], t)
        if pa.types.is_null(column.type):
            return pa.nulls(len(column), t)
    return column.cast(t, safe=False)  # int64 -> float64 beyond 2**53 rounds, as DuckDB does


class _Writer:
    """A Parquet (zstd) or CSV writer with a fixed schema; Parquet rows are gathered into
    row groups of up to WRITE_ROWS rows so that small batches don't make tiny row groups."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema) -> None:
        self._schema = schema
        self._parts: list[pa.Table] = []
        self._rows = self._bytes = 0
        if fmt == "parquet":
            self._writer: Any = pq.ParquetWriter(path, schema, compression="zstd")
        else:
            self._writer = pcsv.CSVWriter(path, schema)
        self._parquet = fmt == "parquet"

    def write(self, table: pa.Table) -> None:
        if not self._parquet:
            self._writer.write_table(table)
            return
        self._parts.append(table)
        self._rows += table.num_rows
        self._bytes += table.nbytes
        if self._rows >= WRITE_ROWS or self._bytes >= WRITE_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._parts:
            self._writer.write_table(pa.concat_tables(self._parts), row_group_size=WRITE_ROWS)
        self._parts, self._rows, self._bytes = [], 0, 0

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        try:
            if kind is None and self._parquet:
                self._flush()
        finally:
            self._writer.close()


class _Progress:
    """`rows done/total` on one terminal line, redrawn with \\r at most every `interval` s.

    Silent unless the stream is a terminal, and until `delay` s have passed (small exports
    print nothing at all).
    """

    def __init__(self, total_rows: int, total_runs: int, stream: TextIO | None = None,
                 interval: float = 0.1, delay: float = 0.5) -> None:
        self._stream = stream if stream is not None else sys.stderr
        isatty = getattr(self._stream, "isatty", None)
        self._on = bool(isatty and isatty())
        self.total_rows, self.total_runs = total_rows, total_runs
        self.rows = self.runs = 0
        self._interval = interval
        self._start = time.monotonic()
        self._next = self._start + delay
        self._drawn = False

    def add(self, rows: int = 0, runs: int = 0) -> None:
        self.rows += rows
        self.runs += runs
        if self._on and time.monotonic() >= self._next:
            self._draw()

    def _draw(self) -> None:
        self._next = time.monotonic() + self._interval
        total = max(self.total_rows, self.rows)
        done = 30 * self.rows // total if total else 30
        self._stream.write(
            f"\rexporting [{'#' * done}{'.' * (30 - done)}] {self.rows:,}/{total:,} rows, "
            f"{self.runs}/{self.total_runs} runs"
        )
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:  # the final state, then end the line
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

"""The `<root>/catalog/` folder: derived caches of the per-run files, and how they are kept.

Each cache is one Arrow IPC file (uncompressed: loading it is a copy, several times faster
than Parquet, and it is no contract for other readers), written whole under a temporary name
and renamed over the old one, so no process ever holds a database file open or sees a torn cache: readers never
block writers or each other, and two refreshing readers each leave a whole, valid file (the
last rename wins). A missing, unreadable or outdated cache is rebuilt from the run files;
a read-only store still answers queries from memory. See docs/DESIGN.md, "Query".
"""

from __future__ import annotations

import array
import json
import math
import os
from datetime import datetime
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json  # noqa: F401 - pa.json

from runlake.engine.atomic import replacing
from runlake.engine.layout import is_valid_name

RunKey = tuple[str, str, str]  # entity, project, run_id


class Cache:
    """One cache file: a row per key of a listing, each with the stamp (size, mtime, ...) it
    was made from. `refresh(listing)` makes rows only for new or changed keys, drops rows of
    keys gone, and saves the result if anything changed."""

    def __init__(self, path: Path, schema: pa.Schema, key_columns: Sequence[str],
                 stamp_columns: Sequence[str],
                 make_row: Callable[[Any, Any], dict[str, Any] | None]) -> None:
        self.path, self.schema = path, schema
        self._keys, self._stamp_cols, self._make_row = list(key_columns), list(stamp_columns), make_row
        self._table: pa.Table | None = None
        self._stamps: dict[Hashable, tuple[Any, ...]] = {}

    def refresh(self, listing: dict[Hashable, tuple[Any, ...]]) -> pa.Table:
        """The cache, current with `listing` (key -> stamp); the same object while unchanged."""
        if self._table is None:
            self._table = load(self.path, self.schema)
            self._stamps = self._stamps_of(self._table)
        if self._stamps == listing:
            return self._table
        keep = [i for i, (k, s) in enumerate(self._stamps.items()) if listing.get(k) == s]
        rows = [row for key, stamp in listing.items() if self._stamps.get(key) != stamp
                if (row := self._make_row(key, stamp)) is not None]
        fresh = table_of(rows, self.schema)
        table = pa.concat_tables([self._table.take(keep), fresh]) if keep else fresh
        self._table = table.combine_chunks()
        self._stamps = self._stamps_of(self._table)
        save(self.path, self._table)
        return self._table

    def _stamps_of(self, table: pa.Table) -> dict[Hashable, tuple[Any, ...]]:
        keys = zip(*(table.column(c).to_pylist() for c in self._keys))
        stamps = zip(*(table.column(c).to_pylist() for c in self._stamp_cols))
        return dict(zip(keys, stamps))


def load(path: Path, schema: pa.Schema) -> pa.Table:
    """The cache at `path`, or an empty table if it is missing, unreadable or of another schema."""
    try:
        with pa.OSFile(str(path)) as f:
            table = pa.ipc.open_file(f).read_all()
        if table.schema.equals(schema):
            return table
    except (OSError, pa.ArrowInvalid):
        pass
    return empty(schema)


def table_of(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """`pa.Table.from_pylist(rows, schema=schema)` without pyarrow's conversion of Python
    values, which imports pandas when it is installed (0.5 s or more, for a reader that may
    never use it): the rows go through pyarrow's JSON reader, binary columns through their
    buffers. Times are datetimes (naive ones are UTC); non-finite floats become null."""
    if not rows:
        return empty(schema)
    binary = [f.name for f in schema if pa.types.is_binary(f.type)]
    text = [f for f in schema if f.name not in binary]
    lines = "\n".join(json.dumps({f.name: _json(r.get(f.name)) for f in text}, ensure_ascii=False)
                      for r in rows)
    table = pa.json.read_json(pa.BufferReader(lines.encode("utf-8")),
                              parse_options=pa.json.ParseOptions(explicit_schema=pa.schema(text)))
    columns = {name: _binary([r.get(name) for r in rows]) for name in binary}
    return pa.table([columns[f.name] if f.name in columns else table.column(f.name)
                     for f in schema], schema=schema)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _binary(values: list[bytes | None]) -> pa.Array:
    offsets, at = array.array("i", [0]), 0
    for v in values:
        at += len(v or b"")
        offsets.append(at)
    valid = None
    if any(v is None for v in values):
        bits = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v is not None:
                bits[i // 8] |= 1 << (i % 8)
        valid = pa.py_buffer(bytes(bits))
    data = pa.py_buffer(b"".join(v or b"" for v in values))
    return pa.Array.from_buffers(pa.binary(), len(values), [valid, pa.py_buffer(offsets), data])


def empty(schema: pa.Schema) -> pa.Table:
    """A table of no rows. Not `schema.empty_table()`: that, like every pyarrow conversion
    of Python values, makes pyarrow import pandas (0.5 s or more) when it is installed."""
    return pa.Table.from_batches([], schema=schema)


def save(path: Path, table: pa.Table) -> None:
    """Replace the cache at `path` atomically; skipped (silently) on a read-only store."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp, pa.OSFile(str(tmp), "wb") as f, \
                pa.ipc.new_file(f, table.schema) as w:
            w.write_table(table)
    except OSError:
        pass


def run_dirs(top: Path) -> list[tuple[RunKey, os.DirEntry[str]]]:
    """The `entity=/project=/run_id=` folders under `top` whose names runlake could have made.

    A folder made by hand with any other name is skipped, so it never reaches a path or SQL.
    """
    found = []
    for e in entries(str(top), "entity="):
        if not is_valid_name(entity := e.name[7:]):
            continue
        for p in entries(e.path, "project="):
            if not is_valid_name(project := p.name[8:]):
                continue
            found += [((entity, project, r.name[7:]), r) for r in entries(p.path, "run_id=")
                      if is_valid_name(r.name[7:])]
    return found


def entries(path: str, prefix: str | None = None) -> list[os.DirEntry[str]]:
    """The entries of a folder (only sub-folders starting with `prefix` if given); [] if none."""
    try:
        with os.scandir(path) as it:
            if prefix is None:
                return list(it)
            return [d for d in it if d.name.startswith(prefix) and d.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []

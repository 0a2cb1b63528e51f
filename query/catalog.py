"""The `<root>/catalog/` folder: derived caches of the per-run files, and how they are kept.

Each cache is one Arrow IPC file (uncompressed: loading it is a copy, several times faster
than Parquet, and it is no contract for other readers), written whole under a temporary name
and renamed over the old one, so no process ever holds a database file open or sees a torn cache: readers never
block writers or each other, and two refreshing readers each leave a whole, valid file (the
last rename wins). A missing, unreadable or outdated cache is rebuilt from the run files;
a read-only store still answers queries from memory. See docs/DESIGN.md, "The read side".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

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
        fresh = pa.Table.from_pylist(rows, schema=self.schema)
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
    return schema.empty_table()


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

"""The segment index: every history file's schema, so a query over many runs opens few footers.

DuckDB's `union_by_name` and polars' unified schemas both need every file's schema before
the first row is read; for thousands of runs that is thousands of footers per query.
`<root>/catalog/segments.arrow` keeps each segment's Arrow schema with the file's size and
mtime, under the rules of catalog.py: refreshed by a listing and a stat per file; only new
or changed files' footers are read. Segments are immutable once published except when rewritten under the
same name by a schema widening, which changes their mtime and size.

A refresh also finds the runs with write-ahead-log files: rows durable but not yet compacted
(a live run, or a crashed one), which readers add from the WAL.
"""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from runlake.engine.layout import RunPaths

from . import catalog
from .catalog import RunKey

SCHEMA = pa.schema([
    ("entity", pa.string()), ("project", pa.string()), ("run_id", pa.string()),
    ("file", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()),
    ("schema", pa.binary()),
])

_SEGMENT = re.compile(r"part-\d{6,}\.parquet")
_WAL = re.compile(r"\d{6,}\.arrows")


def index_path(root: Path) -> Path:
    return root / "catalog" / "segments.arrow"


@dataclass(frozen=True)
class Segments:
    """A snapshot of the store's history files."""

    root: Path
    table: pa.Table  # one row per segment file, SCHEMA
    live: tuple[RunKey, ...]  # runs with WAL files, in listing order

    def files(self, runs: set[RunKey] | None = None) -> list[tuple[Path, pa.Schema]]:
        """(path, schema) of each segment, of the given runs only if `runs` is set."""
        cols = [self.table.column(c).to_pylist() for c in ("entity", "project", "run_id", "file",
                                                            "schema")]
        out = []
        for e, p, r, f, s in zip(*cols):
            if runs is None or (e, p, r) in runs:
                path = RunPaths(self.root, e, p, r).history_dir / f
                out.append((path, _schema(s)))
        return out

    def groups(self, runs: set[RunKey] | None = None) -> list[tuple[pa.Schema, list[Path]]]:
        """(schema, segment paths) for each distinct schema, largest group first."""
        by_schema: dict[bytes, list[Path]] = defaultdict(list)
        cols = [self.table.column(c).to_pylist() for c in ("entity", "project", "run_id", "file",
                                                            "schema")]
        for e, p, r, f, s in zip(*cols):
            if runs is None or (e, p, r) in runs:
                by_schema[s].append(RunPaths(self.root, e, p, r).history_dir / f)
        return [(_schema(s), paths) for s, paths in
                sorted(by_schema.items(), key=lambda kv: len(kv[1]), reverse=True)]


_SCHEMAS: dict[bytes, pa.Schema] = {}


def _schema(blob: bytes) -> pa.Schema:
    schema = _SCHEMAS.get(blob)
    if schema is None:
        schema = _SCHEMAS[blob] = pa.ipc.read_schema(pa.py_buffer(blob))
    return schema


class SegmentIndex:
    """The segment index of one store; `snapshot()` is current with the files on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache = catalog.Cache(index_path(root), SCHEMA, ("entity", "project", "run_id", "file"),
                                    ("size", "mtime_ns"), self._row)
        self._folders = FolderCache()

    def snapshot(self) -> Segments:
        listing, live = _listing(self.root, self._folders)
        return Segments(self.root, self._cache.refresh(listing), tuple(live))

    def _row(self, key: tuple[str, str, str, str], stamp: tuple[int, int]) -> dict | None:
        entity, project, run_id, name = key
        path = RunPaths(self.root, entity, project, run_id).history_dir / name
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowInvalid):
            return None  # replaced or removed since the listing: the next refresh sees it
        return {"entity": entity, "project": project, "run_id": run_id, "file": name,
                "size": stamp[0], "mtime_ns": stamp[1],
                "schema": schema.remove_metadata().serialize().to_pybytes()}


# A folder whose mtime is older than this when it is listed has settled: any later change
# gets a later mtime (file systems stamp folders with a coarse clock, ticks of a few ms).
SETTLED_NS = 1_000_000_000


class FolderCache:
    """What was found in each folder, reused while the folder's mtime and inode stay: one stat
    per run folder on a refresh instead of a listing and a stat per file. Only settled
    listings are kept (SETTLED_NS), so a change within the mtime tick of the listing is never
    missed. Segments are only ever added, removed or replaced by rename, which all change
    their folder's mtime."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[tuple[int, int], Any]] = {}

    def get(self, path: str, compute: Callable[[str], Any], missing: Any) -> Any:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._seen.pop(path, None)
            return missing
        stamp = (st.st_mtime_ns, st.st_ino)
        have = self._seen.get(path)
        if have is not None and have[0] == stamp:
            return have[1]
        settled = time.time_ns() - st.st_mtime_ns > SETTLED_NS
        found = compute(path)  # after the stat: a change from here on changes the mtime
        if settled:
            self._seen[path] = (stamp, found)
        else:
            self._seen.pop(path, None)
        return found


def has_wal(path: str) -> bool:
    return any(_WAL.fullmatch(f.name) for f in catalog.entries(path))


def segment_stamps(path: str) -> list[tuple[str, tuple[int, int]]]:
    found = []
    for f in catalog.entries(path):
        if _SEGMENT.fullmatch(f.name):
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            found.append((f.name, (st.st_size, st.st_mtime_ns)))
    return found


def _listing(root: Path, folders: FolderCache | None = None
             ) -> tuple[dict[tuple[str, str, str, str], tuple[int, int]], list[RunKey]]:
    folders = FolderCache() if folders is None else folders
    # WAL files first: the writer publishes part-N before it deletes N.arrows, so a run whose
    # WAL is compacted between the two listings is still live here and has part-N below (or,
    # once past this listing, a segment its live reader finds: history.wal_table's `known`).
    live = [key for key, entry in catalog.run_dirs(root / "runs")
            if folders.get(entry.path + "/wal", has_wal, False)]
    segments: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for (e, p, r), entry in catalog.run_dirs(root / "history"):
        for name, stamp in folders.get(entry.path, segment_stamps, []):
            segments[(e, p, r, name)] = stamp
    return segments, live

"""The run index: one row per run, a derived and rebuildable cache of the per-run files.

`<root>/catalog/runs.arrow` holds every run.json's fields, flattened, plus the file's
mtime and size. A refresh lists the run folders and stats each run.json (cheap); only new
or changed files are parsed, and a changed index is saved under the rules of catalog.py.
The per-run files stay the source of truth: delete the catalog folder and the next reader
rebuilds it. No DuckDB database file is kept: DuckDB's file lock (one read-write holder
locks out every other process, readers included) would let a reader block a writer.

Queries load the index into an in-memory DuckDB (see `api.py`), where filters run as SQL.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from runlake.engine.layout import RunPaths
from runlake.engine.meta import RunState, check_version, decode, warn_skipped
from runlake.errors import FormatVersionError
from runlake.engine.recovery import owner_dead
from runlake.engine.times import parse_iso

from . import catalog
from .catalog import RunKey

SCHEMA = pa.schema([
    ("entity", pa.string()), ("project", pa.string()), ("id", pa.string()),
    ("name", pa.string()), ("display_name", pa.string()), ("state", pa.string()),
    ("group", pa.string()), ("job_type", pa.string()), ("tags", pa.list_(pa.string())),
    ("notes", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
    ("heartbeat_at", pa.timestamp("us", tz="UTC")), ("finished_at", pa.timestamp("us", tz="UTC")),
    ("start_time", pa.float64()), ("exit_code", pa.int64()), ("error", pa.string()),
    ("config_json", pa.string()), ("summary_json", pa.string()), ("metrics_json", pa.string()),
    ("host", pa.string()), ("pid", pa.int64()), ("sweep_id", pa.string()),
    ("format_version", pa.int64()), ("meta_mtime_ns", pa.int64()), ("meta_size", pa.int64()),
    ("meta_ino", pa.int64()),
])

_STR_FIELDS = ("name", "display_name", "state", "group", "job_type", "notes", "error", "host",
               "sweep_id")


def index_path(root: Path) -> Path:
    return root / "catalog" / "runs.arrow"


def _listing(root: Path) -> dict[RunKey, tuple[int, int, int]]:
    """(entity, project, id) -> (mtime_ns, size, inode) of every run.json under the root.

    One stat per run is the whole cost of a refresh on a warm index: run.json is replaced by
    rename, so its mtime and size change whenever its content does.
    """
    found: dict[RunKey, tuple[int, int, int]] = {}
    for key, entry in catalog.run_dirs(root / "runs"):
        try:
            st = os.stat(entry.path + "/run.json")
        except FileNotFoundError:  # a run being created or deleted right now
            continue
        # The inode too: each replace is a new file, even within one mtime tick, same size.
        found[key] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return found


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


_SKIPPED: set[tuple[Path, tuple[int, int, int]]] = set()


def _row(root: Path, key: RunKey, stamp: tuple[int, int, int]) -> dict[str, Any] | None:
    entity, project, run_id = key
    path = RunPaths(root, entity, project, run_id).meta_file
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (FileNotFoundError, ValueError):  # deleted meanwhile, or not a run.json we can read
        return None
    try:
        check_version(raw, path)
    except FormatVersionError as err:  # a newer runlake's run: the others are still listed
        if (path, stamp) not in _SKIPPED:  # it is parsed again at every refresh: warn once
            _SKIPPED.add((path, stamp))
            warn_skipped(err, f"run {entity}/{project}/{run_id}")
        return None
    row: dict[str, Any] = {"entity": entity, "project": project, "id": run_id}
    for name in _STR_FIELDS:
        value = raw.get(name)
        row[name] = value if isinstance(value, str) else None
    tags = raw.get("tags")
    row["tags"] = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    for name in ("created_at", "heartbeat_at", "finished_at"):
        row[name] = _time(raw.get(name))
    for name, kind in (("start_time", float), ("exit_code", int), ("pid", int),
                       ("format_version", int)):
        value = raw.get(name)
        row[name] = kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    # Kept as JSON text exactly as run.json has it (non-finite floats stay marked objects).
    row["config_json"] = json.dumps(raw.get("config") or {}, ensure_ascii=False)
    row["summary_json"] = json.dumps(raw.get("summary") or {}, ensure_ascii=False)
    row["metrics_json"] = json.dumps(raw.get("metrics") or [], ensure_ascii=False)
    row["meta_mtime_ns"], row["meta_size"], row["meta_ino"] = stamp
    return row


class RunIndex:
    """The index of one store; `table()` is always current with the run.json files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache = catalog.Cache(index_path(root), SCHEMA, ("entity", "project", "id"),
                                    ("meta_mtime_ns", "meta_size", "meta_ino"), partial(_row, root))
        self._derived: tuple[pa.Table, frozenset[RunKey], pa.Table] | None = None

    def table(self) -> pa.Table:
        """The index, refreshed: only run.json files that changed since are parsed.

        A run whose run.json says "running" but whose writer is dead reads "crashed"
        (`_with_crashed`). The same table object is returned while nothing changed, so
        callers can cache on it.
        """
        return self._with_crashed(self._cache.refresh(_listing(self.root)))

    def row(self, paths: RunPaths) -> dict[str, Any] | None:
        """One run's row, as `table()` has it, from its own run.json (None if it has none):
        what finding one run by its path costs, whatever the store holds."""
        try:
            st = os.stat(paths.meta_file)
        except (FileNotFoundError, NotADirectoryError):
            return None
        key = (paths.entity, paths.project, paths.run_id)
        row = _row(self.root, key, (st.st_mtime_ns, st.st_size, st.st_ino))
        if row is None:
            return None
        beat = row["heartbeat_at"]
        if beat is not None and beat.tzinfo is None:  # as the table reads a naive time: UTC
            beat = beat.replace(tzinfo=timezone.utc)
        if row["state"] == RunState.RUNNING and owner_dead(
                paths, row["host"], None if beat is None else beat.timestamp()):
            row["state"] = RunState.CRASHED.value
        return row

    def _dead(self, table: pa.Table) -> set[RunKey]:
        """The keys of the rows that say "running" but whose writer is dead."""
        # A pattern, not pc.equal's Python scalar: converting one makes pyarrow import pandas.
        states = table.column("state")
        running = pc.indices_nonzero(pc.match_substring_regex(states, "^running$"))
        dead = set()
        if len(running):
            now = time.time()
            rows = table.select(["entity", "project", "id", "host"]).take(running)
            # Microseconds as ints: timezone-aware datetimes out of pyarrow import pandas.
            beats = pc.cast(table.column("heartbeat_at").take(running), pa.int64()).to_pylist()
            for row, beat in zip(rows.to_pylist(), beats):
                key = (row["entity"], row["project"], row["id"])
                if owner_dead(RunPaths(self.root, *key), row["host"],
                              None if beat is None else beat / 1e6, now):
                    dead.add(key)
        return dead

    def _with_crashed(self, table: pa.Table) -> pa.Table:
        """The table with each dead "running" run's state "crashed".

        A killed writer never rewrites its run.json, so liveness is asked each time, never
        cached: the run's lock on this host, the heartbeat's age for a run of another host
        (engine.recovery.owner_dead). One lock test per running run; recovery, or a finish,
        takes the run out of "running" for good.
        """
        dead = frozenset(self._dead(table))
        if not dead:
            return table
        if self._derived is not None and self._derived[0] is table and self._derived[1] == dead:
            return self._derived[2]
        keys = zip(*(table.column(c).to_pylist() for c in ("entity", "project", "id")))
        mask = pa.py_buffer(bytes(k in dead for k in keys))  # bytes, not a Python list: see row()
        is_dead = pc.cast(pa.Array.from_buffers(pa.uint8(), table.num_rows, [None, mask]), pa.bool_())
        states = table.column("state")  # the dead are all "running": options, not scalars
        states = pc.if_else(is_dead, pc.replace_substring_regex(states, "^running$", "crashed"),
                            states)
        derived = table.set_column(table.schema.get_field_index("state"), SCHEMA.field("state"),
                                   states)
        self._derived = (table, dead, derived)
        return derived

def loads(text: str | None) -> Any:
    """A JSON column of the index back as Python values (non-finite floats decoded)."""
    return decode(json.loads(text)) if text else {}

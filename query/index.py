"""The run index: one row per run, a derived and rebuildable cache of the per-run files.

`<root>/catalog/runs.parquet` holds every run.json's fields, flattened, plus the file's
mtime and size. A refresh lists the run folders and stats each run.json (cheap); only new
or changed files are parsed, and a changed index is written to a temporary file and renamed
over the old one. So:

- the per-run files stay the source of truth: delete the catalog folder and the next reader
  rebuilds it;
- no process ever holds a database file open: readers never block writers or each other
  (DuckDB's file lock would: one read-write holder locks out every other process), and two
  refreshing readers at once each write a whole, valid index (the last rename wins);
- a read-only store still answers queries; the refreshed index is just not saved.

Queries load the index into an in-memory DuckDB (see `api.py`), where filters run as SQL.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from runlake.engine.meta import decode

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
])

_STR_FIELDS = ("name", "display_name", "state", "group", "job_type", "notes", "error", "host",
               "sweep_id")


def index_path(root: Path) -> Path:
    return root / "catalog" / "runs.parquet"


def _listing(root: Path) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(entity, project, id) -> (mtime_ns, size) of every run.json under the root."""
    found: dict[tuple[str, str, str], tuple[int, int]] = {}
    runs = root / "runs"
    for e in _subdirs(runs, "entity="):
        for p in _subdirs(Path(e.path), "project="):
            for r in _subdirs(Path(p.path), "run_id="):
                try:
                    st = os.stat(os.path.join(r.path, "run.json"))
                except FileNotFoundError:  # a run being created or deleted right now
                    continue
                key = (e.name[7:], p.name[8:], r.name[7:])
                found[key] = (st.st_mtime_ns, st.st_size)
    return found


def _subdirs(path: Path, prefix: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return [d for d in it if d.name.startswith(prefix) and d.is_dir()]
    except FileNotFoundError:
        return []


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _row(root: Path, key: tuple[str, str, str], stamp: tuple[int, int]) -> dict[str, Any] | None:
    entity, project, run_id = key
    path = root / "runs" / f"entity={entity}" / f"project={project}" / f"run_id={run_id}" / "run.json"
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (FileNotFoundError, ValueError):  # deleted meanwhile, or not a run.json we can read
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
    row["meta_mtime_ns"], row["meta_size"] = stamp
    return row


class RunIndex:
    """The index of one store; `table()` is always current with the run.json files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._table: pa.Table | None = None

    def table(self) -> pa.Table:
        """The index, refreshed: only run.json files that changed since are parsed."""
        listing = _listing(self.root)
        table = self._table if self._table is not None else self._load()
        stamps = _stamps(table)
        if stamps == listing:
            self._table = table
            return table
        keep = [i for i, (k, s) in enumerate(stamps.items()) if listing.get(k) == s]
        rows = [
            row for key, stamp in listing.items() if stamps.get(key) != stamp
            if (row := _row(self.root, key, stamp)) is not None
        ]
        fresh = pa.Table.from_pylist(rows, schema=SCHEMA)
        table = pa.concat_tables([table.take(keep), fresh]) if keep else fresh
        self._table = table
        self._save(table)
        return table

    def _load(self) -> pa.Table:
        path = index_path(self.root)
        try:
            table = pq.read_table(path, partitioning=None)
            if table.schema.equals(SCHEMA):
                return table
        except (FileNotFoundError, OSError, pa.ArrowInvalid):
            pass  # missing, unreadable or of an older layout: rebuild from the run files
        return SCHEMA.empty_table()

    def _save(self, table: pa.Table) -> None:
        path = index_path(self.root)
        tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only store: the index still serves this process from memory
        finally:
            if tmp.exists():
                tmp.unlink()


def _stamps(table: pa.Table) -> dict[tuple[str, str, str], tuple[int, int]]:
    cols = [table.column(c).to_pylist() for c in ("entity", "project", "id", "meta_mtime_ns", "meta_size")]
    return {(e, p, i): (m, s) for e, p, i, m, s in zip(*cols)}


def loads(text: str | None) -> Any:
    """A JSON column of the index back as Python values (non-finite floats decoded)."""
    return decode(json.loads(text)) if text else {}

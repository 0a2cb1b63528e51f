"""The read side of alerts: every run's `alerts.jsonl` as one Arrow table (the SQL view
`alerts`) and one run's as records (`Run.alerts()`).

Each file is parsed again only when its size or mtime changes (it is append-only); the
files are small, so the cache lives in memory, per Api.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from runlake.engine.alertlog import read_alerts

from .catalog import RunKey, empty, run_dirs

SCHEMA = pa.schema([
    ("entity", pa.string()), ("project", pa.string()), ("run_id", pa.string()),
    ("time", pa.timestamp("us", tz="UTC")), ("step", pa.int64()), ("level", pa.string()),
    ("title", pa.string()), ("text", pa.string()), ("wait_duration", pa.float64()),
    ("suppressed", pa.int64()),
])


def records(path: Path) -> list[dict[str, Any]]:
    """One run's alerts, oldest first: time (UTC datetime), step, level, title, text,
    wait_duration (seconds), suppressed (repeats of the title dropped just before it)."""
    return [_row(r) for r in read_alerts(path)]


def _row(record: dict[str, Any]) -> dict[str, Any]:
    stamp = record.get("timestamp")
    return {
        "time": datetime.fromtimestamp(stamp, timezone.utc)
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None,
        "step": _int(record.get("step")), "level": _str(record.get("level")),
        "title": record["title"], "text": _str(record.get("text")),
        "wait_duration": _float(record.get("wait_duration")),
        "suppressed": _int(record.get("suppressed")) or 0,
    }


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


class AlertIndex:
    """Every run's alerts under a root, refreshed on each `table()` call."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._parts: dict[Hashable, tuple[tuple[int, int, int], pa.Table]] = {}
        self._table = empty(SCHEMA)

    def table(self) -> pa.Table:
        """The alerts of every run; the same object while no file changed."""
        listing: dict[RunKey, tuple[tuple[int, int, int], str]] = {}
        for key, entry in run_dirs(self.root / "runs"):
            path = os.path.join(entry.path, "alerts.jsonl")
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            listing[key] = ((st.st_size, st.st_mtime_ns, st.st_ino), path)
        if listing.keys() == self._parts.keys() and all(
            self._parts[k][0] == stamp for k, (stamp, _) in listing.items()
        ):
            return self._table
        parts = {}
        for key, (stamp, path) in listing.items():
            have = self._parts.get(key)
            if have is None or have[0] != stamp:
                rows = [{"entity": key[0], "project": key[1], "run_id": key[2], **r}
                        for r in records(Path(path))]
                have = (stamp, pa.Table.from_pylist(rows, schema=SCHEMA))
            parts[key] = have
        self._parts = parts
        tables = [t for _, t in sorted((k, v[1]) for k, v in parts.items())]
        self._table = pa.concat_tables(tables).combine_chunks() if tables else empty(SCHEMA)
        return self._table

"""A run's alerts: `runs/.../alerts.jsonl`, one JSON object per line, append-only.

Durability contract: only the run's owner appends, one whole line per `os.write` on an
O_APPEND descriptor, so a reader sees whole lines but maybe a torn last one if the owner died
mid-write; readers skip lines that do not parse, and the next owner starts on a new line so
a torn line never swallows the next record. Nothing is rewritten or deleted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .meta import decode, encode

# The fields of one record (docs/FORMAT.md, "Alerts").
FIELDS = ("time", "timestamp", "step", "level", "title", "text", "wait_duration", "suppressed")


class AlertLog:
    """The owner's appender of one run's alerts file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._checked = False

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line (OSError if the store can't be written)."""
        line = json.dumps(encode(record), ensure_ascii=False, allow_nan=False) + "\n"
        data = line.encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not self._checked:  # a dead owner's torn last line must not swallow ours
                self._checked = True
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
            os.write(fd, data)
        finally:
            os.close(fd)


def read_alerts(path: Path) -> list[dict[str, Any]]:
    """A run's alert records in the order they were raised; [] if it has none. Lines that do
    not parse as a record (a torn last line) are skipped."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return []
    records = []
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = decode(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("title"), str):
            records.append(record)
    return records

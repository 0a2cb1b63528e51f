"""Reading a store back with plain pyarrow (no runlake reader), for assertions; polling."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from runlake.media.base import Media


def history(root: Path, run_id: str | None = None) -> pa.Table:
    files = sorted(root.glob("history/entity=*/project=*/run_id=*/part-*.parquet"))
    if run_id is not None:
        files = [f for f in files if f.parent.name == f"run_id={run_id}"]
    tables = [pq.read_table(f, partitioning=None) for f in files]
    return pa.concat_tables(tables, promote_options="permissive").sort_by("_step")


def rows(root: Path, run_id: str | None = None) -> list[dict]:
    """History rows as dicts without null entries and without _runtime/_timestamp."""
    out = []
    for row in history(root, run_id).to_pylist():
        out.append({k: v for k, v in row.items() if v is not None and k not in ("_runtime", "_timestamp")})
    return out


def run_json(root: Path, run_id: str, entity: str = "local", project: str = "uncategorized") -> dict:
    """A run's run.json read as plain JSON (non-finite floats stay {"_nonfinite": ...})."""
    import json

    path = root / "runs" / f"entity={entity}" / f"project={project}" / f"run_id={run_id}" / "run.json"
    with open(path, encoding="utf-8") as f:
        return json.load(f)


T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T], deadline: float, pause: float = 0.02) -> T:
    """Poll `probe` until it returns something truthy; fail after `deadline` seconds (a
    bound that is never reached when all is well: tests assert no timing)."""
    import pytest

    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(pause)


# -- media values without a run: a real minimal MediaContext and a small Media ------------------

class Note(Media):
    """A small media value for table cells: a text file."""

    _log_type = "note-file"
    _folder = "notes"

    def __init__(self, text: str) -> None:
        self.text = text

    def _encode(self, ctx):
        return self.text.encode(), ".txt", {"chars": len(self.text)}


class Ctx:
    """A MediaContext that keeps stored files in memory, as a run's files dir would."""

    def __init__(self, key: str = "preds", step: int = 0) -> None:
        self.key, self.step, self.files = key, step, {}

    def store(self, value: Media) -> dict:
        data, suffix, fields = value._encode(self)
        digest = hashlib.sha256(data).hexdigest()
        path = f"media/{value._folder}/{self.key}_{self.step}_{digest[:20]}{suffix}"
        self.files[path] = data
        return {"_type": value._log_type, "path": path, "sha256": digest, "size": len(data), **fields}

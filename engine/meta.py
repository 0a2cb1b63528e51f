"""Run metadata: one `run.json` per run, the source of truth for everything but history.

Each run's file is written only by the process that owns the run, always whole (temporary
file, then rename), so many processes can write many runs with no shared lock and a reader
never sees a partial file. JSON has no NaN or infinity: such floats are written as the
strings "NaN", "Infinity" and "-Infinity" inside {"_nonfinite": ...} objects and decoded back.
"""

from __future__ import annotations

import enum
import json
import math
import threading
import warnings
from pathlib import Path
from typing import Any

from runlake.errors import FormatVersionError

from .atomic import replacing
from .layout import FORMAT_VERSION



class RunState(enum.StrEnum):
    """run.json's `state` (docs/FORMAT.md, "Run states"): `str`-valued, so a member is the very
    string stored and compares equal to it."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"
    PREEMPTING = "preempting"
    DETACHED = "detached"


# States whose owner may still be logging: recovery and readers ask the lock or the heartbeat.
LIVE_STATES = frozenset({RunState.RUNNING, RunState.PREEMPTING})

# The fields of run.json (docs/FORMAT.md, "Run metadata").
FIELDS = (
    "format_version", "id", "entity", "project", "name", "display_name", "group", "job_type",
    "tags", "notes", "config", "summary", "metrics", "state", "exit_code", "error",
    "created_at", "start_time", "heartbeat_at", "finished_at", "host", "pid", "sweep_id",
    "fork_from",
)

_NONFINITE = "_nonfinite"
_NONFINITE_VALUES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# A user's dict that looks like a marker ({"_nonfinite": ...} or {"_literal": ...}) is written
# inside {"_literal": {...}}, so that decoding gives back exactly the dict that was stored.
_LITERAL = "_literal"


def encode(value: Any) -> Any:
    """JSON-safe copy of a value: non-finite floats wrapped, numpy scalars made Python, lone
    surrogates backslash-escaped (UTF-8 can't hold them; history stores them the same way)."""
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {_NONFINITE: "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, str):
        return value if value.isascii() else _utf8(value)
    if isinstance(value, (bool, int)) or value is None:
        return value
    if isinstance(value, dict):
        out = {encode(str(k)): encode(v) for k, v in value.items()}
        return {_LITERAL: out} if len(out) == 1 and (_NONFINITE in out or _LITERAL in out) else out
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    item = getattr(value, "item", None)
    if item is not None:  # numpy scalars
        return encode(item())
    return repr(value)


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            if _LITERAL in value and isinstance(value[_LITERAL], dict):
                return {k: decode(v) for k, v in value[_LITERAL].items()}
            marker = value.get(_NONFINITE)
            if isinstance(marker, str) and marker in _NONFINITE_VALUES:
                return _NONFINITE_VALUES[marker]
            # else a user's dict stored before markers were escaped: kept as it is
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(encode(data), f, ensure_ascii=False, allow_nan=False)


def read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return decode(json.load(f))


def check_version(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """`data` (a run.json or manifest read from `path`) if this runlake can read its
    `format_version`, else FormatVersionError. A file without the field predates it: 1."""
    version = data.get("format_version", FORMAT_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version <= FORMAT_VERSION:
        return data
    raise FormatVersionError(
        f"{path} has format_version {version!r}, but this runlake reads format_version "
        f"{FORMAT_VERSION} and older: it was written by a newer runlake; upgrade runlake "
        "(pip install --upgrade runlake) to read it"
    )


def read_versioned(path: Path) -> dict[str, Any]:
    """A run.json or manifest, refused (FormatVersionError) if a newer runlake wrote it."""
    return check_version(read_json(path), path)


def warn_skipped(error: FormatVersionError, what: str) -> None:
    """The warning of a store-wide reader that leaves out one file it cannot read."""
    warnings.warn(f"{what} left out: {error}", UserWarning, stacklevel=3)


class RunMeta:
    """The metadata of one run, owned by its process; every change is written at once."""

    def __init__(self, path: Path, fields: dict[str, Any]) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {"format_version": FORMAT_VERSION, **fields}
        unknown = set(self._data) - set(FIELDS)
        if unknown:
            raise KeyError(f"unknown run.json fields: {sorted(unknown)}")

    @classmethod
    def load(cls, path: Path) -> RunMeta:
        meta = cls.__new__(cls)
        meta.path = path
        meta._lock = threading.Lock()
        meta._data = read_versioned(path)
        return meta

    def get(self, field: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(field, default)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._data)

    def update(self, **fields: Any) -> None:
        """Set fields and persist the whole file."""
        with self._lock:
            unknown = set(fields) - set(FIELDS)
            if unknown:
                raise KeyError(f"unknown run.json fields: {sorted(unknown)}")
            self._data.update(fields)
            write_json(self.path, self._data)

"""What a scenario saw, written as JSON lines on stdout for the comparer.

Imported by every scenario under both sides (real wandb, runlake through the alias), so it
imports neither: it only turns values into plain JSON. Each line is
`@@obs {"key": ..., "value": ...}`; anything else a side prints is ignored by the comparer.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import sys
from typing import Any, Callable, Iterator

PREFIX = "@@obs "
_seen: set[str] = set()
# A stream of its own on stdout's descriptor: both libraries wrap sys.stdout to capture the
# console, and observations must neither pass through them nor wait in their buffers.
_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)


def emit(key: str, value: Any) -> None:
    """Record one observation; a key is recorded once per scenario."""
    if key in _seen:
        raise AssertionError(f"scenario observed {key!r} twice")
    _seen.add(key)
    line = json.dumps({"key": key, "value": plain(value)}, sort_keys=True, allow_nan=False)
    _out.write(PREFIX + line + "\n")
    _out.flush()


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON value standing for `value`: containers recursively, numpy scalars as numbers,
    non-finite floats and other objects as tagged dicts (never a repr with an address)."""
    if depth > 20:
        return {"$deep": True}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted(plain(v, depth + 1) for v in value)}
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # scalars, no numpy import
        return plain(value.item(), depth + 1)
    keys = getattr(type(value), "keys", None)  # dict-like: wandb's nested summary, a Config
    if callable(keys) and hasattr(type(value), "__getitem__"):
        return {str(k): plain(value[k], depth + 1) for k in value.keys()}
    return {"$type": type(value).__name__}


def error(e: BaseException) -> dict[str, Any]:
    """An exception by its class name, the builtin classes it derives from, and the names of
    the classes of the library under test (wandb's or runlake's) it is an instance of; other
    libraries' classes (pydantic's ValidationError) are named only by `error`."""
    mro = type(e).__mro__
    return {
        "error": type(e).__name__,
        "builtins": [c.__name__ for c in mro if c.__module__ == "builtins"],
        "library": sorted({c.__name__ for c in mro
                           if c.__module__.split(".")[0] in ("wandb", "runlake")}),
    }


def call(key: str, fn: Callable[[], Any], show: Callable[[Any], Any] | None = None) -> Any:
    """Call `fn` and record what it returned (through `show`) or the error it raised."""
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001 - the class is what is observed
        emit(key, error(e))
        return None
    try:
        shown = show(result) if show is not None else result
    except Exception as e:  # noqa: BLE001 - what it returned is not what wandb's is
        shown = {"returned": type(result).__name__, "unlike": error(e)}
    emit(key, {"ok": shown})
    return result


@contextlib.contextmanager
def attempt(key: str) -> Iterator[None]:
    """Record `"ok"` if the block ran through, else the error it raised."""
    try:
        yield
    except Exception as e:  # noqa: BLE001
        emit(key, error(e))
    else:
        emit(key, "ok")


def params(fn: Any) -> Any:
    """A callable's parameters as {name: [kind, default or "$required"]}: by name, since
    callers pass them by name; annotations left out (each side spells them differently and
    they are no part of the calling contract)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        return error(e)
    out = {}
    for p in sig.parameters.values():
        default = "$required" if p.default is inspect.Parameter.empty else plain(p.default)
        out[p.name] = [p.kind.name, default]
    return out


def done() -> None:
    """The last observation: a scenario that stopped early lacks it."""
    emit("done", True)

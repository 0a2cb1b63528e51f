"""`run.summary`: one value per logged key, kept off the hot path.

`log()` never touches the summary. The writer hands every buffered chunk to `fold()` exactly
once, in order, and a read first drains the buffer, so a read always reflects every `log()`
before it. Per key the summary is the last logged value, or, where `define_metric` asks for
aggregations, a dict of them (`{"max": 0.93}`, as wandb writes it). Values the user sets with
`summary[k] = v`, `summary.k = v` or `summary.update()` win over the automatic ones.

Reading a key gives nested values as `SummaryDict`s (dicts that read and write by attribute,
`summary.a.b`); `_step`, `_runtime` and `_timestamp` are the last committed row's.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from runlake.engine.buffer import Chunk
from runlake.errors import InvalidKeyError, InvalidNameError, InvalidValueError
from runlake.engine.kinds import FLOAT, INT

from runlake.tracking.metric import MetricRegistry
from runlake.tracking.values import media_of, plain_nested



class _Agg:
    __slots__ = ("first", "min", "max", "total", "count")

    def __init__(self, first: float) -> None:
        self.first = first
        self.min = math.inf
        self.max = -math.inf
        self.total = 0.0
        self.count = 0

    def add(self, column: np.ndarray) -> None:
        finite = column[~np.isnan(column)]
        if finite.size:
            self.merge(float(finite.min()), float(finite.max()), float(finite.sum()),
                       int(finite.size))

    def merge(self, lo: float, hi: float, total: float, count: int) -> None:
        if count:
            self.min = min(self.min, lo)
            self.max = max(self.max, hi)
            self.total += total
            self.count += count


def _plain(value: Any) -> Any:
    """List values are stored as tuple subclasses, a small multi-dimensional array as a
    struct; the summary shows plain (nested) lists."""
    return list(value) if isinstance(value, tuple) else plain_nested(value)


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return out


class Summary:
    """A run's summary: dict-like, readable at any time, persisted at every flush."""

    def __init__(self, metrics: MetricRegistry, sync: Callable[[], None] | None = None,
                 encode: Callable[[str, Any], Any] | None = None,
                 start_time: float | None = None) -> None:
        object.__setattr__(self, "_fields", None)  # __setattr__ below needs the instance dict
        self._metrics = metrics
        self._start_time = start_time
        self._row: dict[str, Any] = {}  # the last folded row's _step, _runtime, _timestamp
        self._sync = sync
        self._encode = encode  # a media value set by hand -> its stored reference (the Run's)
        self._lock = threading.RLock()
        self._last: dict[str, Any] = {}
        self._aggs: dict[str, _Agg] = {}
        self._user: dict[str, Any] = {}
        self._deleted: set[str] = set()
        self.version = 0

    # -- fed by the writer ---------------------------------------------------------------------

    def fold(self, chunks: Sequence[Chunk]) -> None:
        """Fold buffered rows into the summary state (called once per chunk, in order)."""
        with self._lock:
            for chunk in chunks:
                n = len(chunk)
                if not n:
                    continue
                width = len(chunk.keys)
                base = (n - 1) * width
                values = chunk.values
                chunk_kinds = chunk.kinds()
                self._row = {"_step": chunk.steps[-1], "_timestamp": chunk.times[-1]}
                if self._start_time is not None:
                    self._row["_runtime"] = chunk.times[-1] - self._start_time
                for j, key in enumerate(chunk.keys):
                    self._last[key] = values[base + j]
                    self._deleted.discard(key)
                self._fold_stats(chunk, chunk_kinds)
            self.version += 1

    def _fold_stats(self, chunk: Chunk, chunk_kinds: tuple[str, ...]) -> None:
        """min, max, total and count of every numeric key, whether or not a metric asks for
        them yet: `define_metric(summary="min")` after rows were logged covers those rows, as
        in wandb. A float chunk (the usual metrics) is reduced for all its keys at once."""
        aggs = self._aggs
        if chunk.floats:
            rows = np.frombuffer(chunk.values, dtype=np.float64).reshape(len(chunk), -1)
            nan = np.isnan(rows)
            lows = np.where(nan, np.inf, rows).min(axis=0).tolist()
            highs = np.where(nan, -np.inf, rows).max(axis=0).tolist()
            totals = np.where(nan, 0.0, rows).sum(axis=0).tolist()
            counts = (len(chunk) - nan.sum(axis=0)).tolist()
            firsts = rows[0].tolist()
            for j, key in enumerate(chunk.keys):
                agg = aggs.get(key)
                if agg is None:
                    agg = aggs[key] = _Agg(firsts[j])
                agg.merge(lows[j], highs[j], totals[j], counts[j])
            return
        n = len(chunk)
        for j, key in enumerate(chunk.keys):
            if chunk_kinds[j] not in (INT, FLOAT):
                continue
            column = chunk.column(j)
            if not isinstance(column, np.ndarray):
                try:
                    column = np.fromiter(column, dtype=np.float64, count=n)
                except (OverflowError, TypeError):  # ints beyond float range: no aggregate
                    continue
            agg = aggs.get(key)
            if agg is None:
                agg = aggs[key] = _Agg(float(column[0]))
            agg.add(column)

    def restore(
        self,
        last: Mapping[str, Any],
        aggregates: Mapping[str, tuple[float, float, float, float, int]],
        user: Mapping[str, Any] | None = None,
        deleted: Iterable[str] = (),
    ) -> None:
        """Start from a resumed, rewound or forked run's state (sdk/tracking/continuation.py): last
        values, (first, min, max, total, count) per aggregated key, values set by hand and
        keys deleted by hand. Logging then continues the aggregations."""
        with self._lock:
            self._last.update(last)
            for key, (first, lo, hi, total, count) in aggregates.items():
                agg = self._aggs[key] = _Agg(first)
                agg.min, agg.max, agg.total, agg.count = lo, hi, total, count
            self._user.update(user or {})
            self._deleted.update(deleted)
            self.version += 1

    def last_value(self, key: str) -> Any:
        """The last logged value of a key (not the aggregated summary), or None."""
        self._drain()
        with self._lock:
            return _plain(self._last.get(key))

    # -- reading -------------------------------------------------------------------------------

    def _drain(self) -> None:
        if self._sync is not None:
            self._sync()

    def as_dict(self, user: bool = True) -> dict[str, Any]:
        """The summary as run.json holds it: logged keys flat as in history, aggregated keys as
        {"max": ...} dicts, then the values set by hand (nested as they were set)."""
        self._drain()
        with self._lock:
            out: dict[str, Any] = {}
            for key, last in self._last.items():
                if key in self._deleted:
                    continue
                metric = self._metrics.resolve(key) if self._metrics else None
                ops = metric.ops if metric is not None else ()
                value = self._summarise(key, last, ops, metric.goal if metric else None)
                if value is not _NONE:
                    out[key] = value
            if user:
                for key, value in self._user.items():
                    old = out.get(key)
                    both = isinstance(old, dict) and isinstance(value, dict)
                    out[key] = _merged(old, value) if both else value
            return out

    def _summarise(self, key: str, last: Any, ops: tuple[str, ...], goal: str | None) -> Any:
        if not ops or ops == ("copy",):
            return _plain(last)
        if "none" in ops:
            return _NONE
        agg = self._aggs.get(key)
        result: dict[str, Any] = {}
        for op in ops:
            if op in ("last", "copy"):
                result["last"] = _plain(last)
            elif agg is None or agg.count == 0:
                continue
            elif op == "min":
                result["min"] = agg.min
            elif op == "max":
                result["max"] = agg.max
            elif op == "mean":
                result["mean"] = agg.total / agg.count
            elif op == "best":
                result["best"] = agg.min if goal == "minimize" else agg.max
            elif op == "first":
                result["first"] = agg.first
        return result if result else _NONE

    def __getitem__(self, key: str) -> Any:
        """A key's value; a nested one (logged `{"a": {"b": 1}}`, or set by hand) as a dict
        that also reads and writes by attribute (`summary.a.b`). `_step`, `_runtime` and
        `_timestamp` are the last logged row's."""
        value = self._lookup(key)
        if value is _NONE:
            raise KeyError(key)
        return SummaryDict._wrap(self, (key,), value)

    def _lookup(self, key: str) -> Any:
        if key in RESERVED:
            self._drain()
            with self._lock:
                return self._row.get(key, _NONE)
        flat = self.as_dict(user=False)
        with self._lock:
            user = self._user.get(key, _NONE)
        logged = flat.get(key, _NONE)
        if logged is _NONE:
            prefix = key + "."
            nested = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
            logged = unflatten(nested) if nested else _NONE
        if user is _NONE:
            return logged
        if isinstance(user, dict) and isinstance(logged, dict):
            return _merged(logged, user)
        return user

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") and key not in RESERVED:
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        """`summary.best = 7` sets the key "best", as in wandb (attributes of its own start
        with "_", or are `version`)."""
        if key.startswith("_") or key == "version":
            object.__setattr__(self, key, value)
        else:
            self.update({key: value})

    def __delattr__(self, key: str) -> None:
        if key.startswith("_"):
            object.__delattr__(self, key)
            return
        try:
            del self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not _NONE

    def keys(self):  # noqa: ANN201 - dict view
        return self.as_dict().keys()

    def items(self):  # noqa: ANN201
        return self.as_dict().items()

    def values(self):  # noqa: ANN201
        return self.as_dict().values()

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    # -- writing by the user -------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, d: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Set summary values; they win over the values logging would set."""
        items = {**(d or {}), **kwargs}
        for key in items:
            if not isinstance(key, str) or not key:
                raise KeyError(f"summary keys must be non-empty strings, got {key!r}")
            if key in RESERVED:
                raise InvalidNameError(
                    f"summary key {key!r} is runlake's own (the last logged row's {key}); it "
                    "follows log(): set a key of your own instead")
        if self._encode is not None:
            items = {key: storable(key, self._encode(key, value)) for key, value in items.items()}
        else:  # a disabled run stores nothing: media stay as given, the rest as Python values
            items = {key: value if media_of(key, value) is not None else storable(key, value)
                     for key, value in items.items()}
        with self._lock:
            for key, value in items.items():
                self._user[key] = value
                self._deleted.discard(key)
            self.version += 1

    def __delitem__(self, key: str) -> None:
        """Delete a key: a value set by hand, a logged key, and a nested one's logged keys
        (`del summary["a"]` after logging `{"a": {"b": 1}}` deletes "a.b")."""
        self._drain()  # a key logged just before is in the buffer, not yet in `_last`
        with self._lock:
            prefix = key + "."
            logged = [k for k in self._last if k == key or k.startswith(prefix)]
            found = self._user.pop(key, _NONE) is not _NONE or any(
                k not in self._deleted for k in logged)
            if not found:
                raise KeyError(key)
            self._deleted.update(logged or (key,))
            self.version += 1

    def _set_path(self, path: tuple[str, ...], value: Any) -> None:
        """`summary.a.b = 1` / `summary["a"]["b"] = 1`: set by hand at `path` inside the top
        key's value; logged values beside it still show (and follow later logging)."""
        with self._lock:
            top = _plain_tree(self._user.get(path[0]))
        top = top if isinstance(top, dict) else {}
        node = top
        for part in path[1:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
        self.update({path[0]: top})

    def _del_path(self, path: tuple[str, ...]) -> None:
        self._drain()
        flat = ".".join(path)
        with self._lock:
            node = self._user.get(path[0])
            for part in path[1:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            found = isinstance(node, dict) and node.pop(path[-1], _NONE) is not _NONE
            prefix = flat + "."
            logged = [k for k in self._last if (k == flat or k.startswith(prefix))
                      and k not in self._deleted]
            if not found and not logged:
                raise KeyError(path[-1])
            self._deleted.update(logged)
            self.version += 1

    def __repr__(self) -> str:
        return f"Summary({self.as_dict()!r})"


RESERVED = ("_step", "_runtime", "_timestamp")


def storable(key: str, value: Any, depth: int = 0) -> Any:
    """A summary value as run.json can hold it (what log() would accept, media already made
    references), or a clear error: a value stored as its repr could never be read back."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return storable(key, value.tolist(), depth)
    if isinstance(value, np.generic):
        return storable(key, value.item(), depth)
    if depth < 32 and isinstance(value, Mapping):
        return {str(k): storable(key, v, depth + 1) for k, v in value.items()}
    if depth < 32 and isinstance(value, (list, tuple)):
        return [storable(key, v, depth + 1) for v in value]
    if not isinstance(value, type) and hasattr(type(value), "__float__"):  # Decimal, Fraction
        try:
            return float(value)
        except (ValueError, TypeError, OverflowError):
            pass
    raise InvalidValueError(
        f"summary key {key!r}: a {type(value).__module__}.{type(value).__qualname__} can't be "
        "stored in the summary; set a number, string, bool, None, a list or dict of these, or "
        "a media object (str(value) keeps its text)")


class SummaryDict(dict):
    """A nested summary value: a dict (equal to the plain one) that reads by attribute too,
    and whose writes (`summary.a.b = 1`, `summary["a"]["b"] = 1`, `del`) go back to the
    run's summary, as wandb's SummarySubDict does."""

    @classmethod
    def _wrap(cls, owner: Summary, path: tuple[str, ...], value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        node = cls()
        for k, v in value.items():
            dict.__setitem__(node, k, cls._wrap(owner, (*path, k), v))
        object.__setattr__(node, "_owner", owner)
        object.__setattr__(node, "_path", path)
        return node

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"summary key {'.'.join(self._path)!r} has no {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key:
            raise InvalidKeyError(f"summary keys must be non-empty strings, got {key!r}")
        self._owner._set_path((*self._path, key), value)
        dict.__setitem__(self, key, self._wrap(self._owner, (*self._path, key), value))

    def __delitem__(self, key: str) -> None:
        self._owner._del_path((*self._path, key))
        dict.__delitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


def _plain_tree(value: Any) -> Any:
    """A copy of a (nested) summary value made of plain dicts."""
    if isinstance(value, dict):
        return {k: _plain_tree(v) for k, v in value.items()}
    return value


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` deep-merged onto `base` (values set by hand over the logged ones)."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_NONE: Any = _Missing()

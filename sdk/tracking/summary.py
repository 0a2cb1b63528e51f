"""`run.summary`: one value per logged key, kept off the hot path.

`log()` never touches the summary. The writer hands every buffered chunk to `fold()` exactly
once, in order, and a read first drains the buffer, so a read always reflects every `log()`
before it. Per key the summary is the last logged value, or, where `define_metric` asks for
aggregations, a dict of them (`{"max": 0.93}`, as wandb writes it). Values the user sets with
`summary[k] = v` or `summary.update()` win over the automatic ones.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from runlake.engine.buffer import Chunk
from runlake.errors import InvalidNameError, InvalidValueError
from runlake.engine.kinds import FLOAT, INT

from runlake.tracking.metric import MetricRegistry
from runlake.tracking.values import plain_nested

_NUMERIC_AGG = ("min", "max", "mean", "best")


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
            self.min = min(self.min, float(finite.min()))
            self.max = max(self.max, float(finite.max()))
            self.total += float(finite.sum())
            self.count += int(finite.size)


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
                 encode: Callable[[str, Any], Any] | None = None) -> None:
        self._metrics = metrics
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
                for j, key in enumerate(chunk.keys):
                    self._last[key] = values[base + j]
                    self._deleted.discard(key)
                    metric = self._metrics.resolve(key) if self._metrics else None
                    if metric is None or chunk_kinds[j] not in (INT, FLOAT) or not any(
                        op in _NUMERIC_AGG or op == "first" for op in metric.summary
                    ):
                        continue
                    column = chunk.column(j)
                    if not isinstance(column, np.ndarray):
                        try:
                            column = np.fromiter(column, dtype=np.float64, count=n)
                        except OverflowError:  # ints beyond float range: no numeric aggregate
                            continue
                    agg = self._aggs.get(key)
                    if agg is None:
                        agg = self._aggs[key] = _Agg(float(column[0]))
                    agg.add(column)
            self.version += 1

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

    def as_dict(self) -> dict[str, Any]:
        """The summary as wandb writes it: flat keys, aggregated keys as {"max": ...} dicts."""
        self._drain()
        with self._lock:
            out: dict[str, Any] = {}
            for key, last in self._last.items():
                if key in self._deleted:
                    continue
                metric = self._metrics.resolve(key) if self._metrics else None
                ops = metric.summary if metric is not None else ()
                value = self._summarise(key, last, ops, metric.goal if metric else None)
                if value is not _NONE:
                    out[key] = value
            out.update(self._user)
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
        flat = self.as_dict()
        if key in flat:
            return flat[key]
        prefix = key + "."
        nested = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        if nested:
            return unflatten(nested)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _NONE) is not _NONE

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
        if self._encode is not None:  # None in a disabled run, which stores nothing
            items = {key: storable(key, self._encode(key, value)) for key, value in items.items()}
        with self._lock:
            for key, value in items.items():
                self._user[key] = value
                self._deleted.discard(key)
            self.version += 1

    def __delitem__(self, key: str) -> None:
        self._drain()  # a key logged just before is in the buffer, not yet in `_last`
        with self._lock:
            found = self._user.pop(key, _NONE) is not _NONE or key in self._last
            if not found:
                raise KeyError(key)
            self._deleted.add(key)
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


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_NONE: Any = _Missing()

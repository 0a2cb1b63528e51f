"""The in-memory history buffer: what `log()` appends to, and the only thing it touches.

Rows are kept in chunks of one *shape*: the same keys in the same order, with the same value
types. Training loops log the same shape step after step, so the common case is one key
comparison and a few appends (docs/DESIGN.md, "The buffer"):

- A chunk of float values only (the usual metrics row) stores them row-major in one
  `array('d')`: `extend(data.values())` converts and checks every value in C, and a value
  that is not a float (a string, None, a dict...) makes it fail, roll back and send the row
  to the caller's slow path. Column `j` is later a strided view of that memory.
- Any other chunk stores the caller's values in a flat list, guarded by a comparison of the
  value types with the chunk's.

Steps and timestamps go to typed arrays too. The writer thread swaps the chunk list out
under the same lock; nothing here does I/O. Backpressure: once the oldest row not yet taken is
older than `max_lag` seconds (set by the writer while it is healthy), an append waits for the
writer's next take (at most MAX_WAIT), so a writer that falls behind slows the logger down
instead of letting the crash-loss window grow.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterable, Mapping
from time import time as _now

import numpy as np

from .kinds import FLOAT, KIND_OF_TYPE

_INF = float("inf")
# The longest one append waits for the writer's take (it is woken as soon as the writer takes,
# or stops throttling on a write error): a writer stuck longer than this never hangs log().
MAX_WAIT = 5.0


class Chunk:
    """Rows of one shape: `keys`, their value `types`, row-major `values`, `steps`, `times`."""

    __slots__ = ("keys", "types", "floats", "values", "steps", "times")

    def __init__(self, keys: tuple[str, ...], types: tuple[type, ...]) -> None:
        self.keys = keys
        self.types = types
        self.floats = bool(keys) and all(KIND_OF_TYPE[t] == FLOAT for t in types)
        self.values: array[float] | list[object] = array("d") if self.floats else []
        self.steps = array("q")
        self.times = array("d")

    def __len__(self) -> int:
        return len(self.steps)

    def column(self, j: int) -> np.ndarray | list[object]:
        """Column `j`: a float64 view for a float chunk, else a list of the values."""
        width = len(self.keys)
        if self.floats:
            return np.frombuffer(self.values, dtype=np.float64).reshape(-1, width)[:, j]
        return self.values[j::width] if width > 1 else self.values  # type: ignore[return-value]

    def kinds(self) -> tuple[str, ...]:
        return tuple(KIND_OF_TYPE[t] for t in self.types)


class HistoryBuffer:
    """Buffered history rows of one run, appended by the logging thread, taken by the writer."""

    __slots__ = ("_lock", "_taken", "_chunks", "_cur", "_armed", "_deadline", "_max_lag",
                 "rows_logged", "step")

    def __init__(self, step: int = 0) -> None:
        self._lock = threading.Lock()
        self._taken = threading.Condition(self._lock)  # notified by take()
        self._chunks: list[Chunk] = []
        self._cur: Chunk | None = None  # the chunk the next row of its shape goes to
        self._armed = False  # whether append_like_last may take a row (see disarm)
        self._max_lag: float | None = None  # None: never wait (no writer, or a failing one)
        self._deadline = _INF  # when the oldest untaken row is max_lag old; inf when none
        self.rows_logged = 0
        self.step = step  # the step the next row gets unless one is given

    def append_like_last(self, data: Mapping[str, object]) -> bool:
        """Append `data` at the next step if it has exactly the last row's shape; else False.

        The caller's normaliser produced the last row, so a row of the same shape needs no
        normalising: it is stored as it is. `disarm()` turns this off until the next
        `append()`.
        """
        lock = self._lock
        lock.acquire()
        try:
            cur = self._cur
            if not self._armed or type(data) is not dict or tuple(data) != cur.keys:
                return False
            values = cur.values
            if cur.floats:
                size = len(values)
                try:
                    values.extend(data.values())  # type: ignore[arg-type]
                except Exception:  # a non-float value (or a warning raised as an error)
                    del values[size:]
                    return False
            else:
                new = data.values()
                if tuple(map(type, new)) != cur.types:
                    return False
                values.extend(new)
            now = _now()
            cur.steps.append(self.step)
            cur.times.append(now)
            self.step += 1
            self.rows_logged += 1
            if now > self._deadline:
                self._taken.wait(MAX_WAIT)
            return True
        finally:
            lock.release()

    def append(self, keys: tuple[str, ...], values: Iterable[object], step: int) -> None:
        """Append a normalised row (values of known kinds, in the order of `keys`) at `step`.

        A row of the last row's shape joins its chunk whatever path it took (`step=`,
        `commit=False`, nested dicts), so the writer converts one chunk, not one per row.
        """
        values = tuple(values)
        types = tuple(map(type, values))
        now = _now()
        with self._lock:
            if not self._chunks and self._max_lag is not None:
                self._deadline = now + self._max_lag
            cur = self._cur
            if cur is None or cur.keys != keys or cur.types != types:
                cur = Chunk(keys, types)
                self._chunks.append(cur)
                self._cur = cur
            cur.values.extend(values)  # type: ignore[arg-type]
            cur.steps.append(step)
            cur.times.append(now)
            self.step = step + 1
            self.rows_logged += 1
            self._armed = True
            if now > self._deadline:
                self._taken.wait(MAX_WAIT)

    def disarm(self) -> None:
        """Send the next rows through the caller's slow path (e.g. while a step is pending)
        until the next `append()`; the current chunk stays open to rows of its shape."""
        with self._lock:
            self._armed = False

    def take(self) -> list[Chunk]:
        """Remove and return every buffered chunk, oldest first."""
        with self._lock:
            chunks = self._chunks
            if not chunks:
                # never hand out the live list: rows logged after the lock is released would
                # land in it, in a chunk that the writer is converting
                return []
            self._chunks = []
            self._cur = None
            self._armed = False
            self._deadline = _INF
            self._taken.notify_all()
            return chunks

    def throttle(self, max_lag: float | None) -> None:
        """Make appends wait for the writer once the oldest untaken row is `max_lag` seconds
        old; None turns it off (the writer is stopping, or retrying a failed write: training
        must go on then, with the rows kept in memory)."""
        with self._lock:
            self._max_lag = max_lag
            if max_lag is None:
                self._deadline = _INF
                self._taken.notify_all()
            elif self._chunks:
                oldest = min((c.times[0] for c in self._chunks if len(c)), default=_INF)
                self._deadline = oldest + max_lag

    def __len__(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._chunks)

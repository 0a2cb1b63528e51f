"""The in-memory history buffer: what `log()` appends to, and the only thing it touches.

Rows are kept in chunks of one *shape* (the same keys in the same order, with the same value
types). A chunk stores its values row-major in one flat list, so appending a row is a single
`list.extend` of the caller's dict values and column `j` is later the C-speed slice
`values[j::width]`. Training loops log the same shape step after step, so the common case
costs a key comparison, a type comparison and two appends (see docs/DESIGN.md for the
measurements that chose this over per-key lists and row dicts).

The writer thread swaps the chunk list out under the same lock; nothing here does I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from time import time as _now

from .kinds import KIND_OF_TYPE


class Chunk:
    """Rows of one shape: `keys`, their value `types`, and row-major `values`."""

    __slots__ = ("keys", "types", "values", "steps", "times")

    def __init__(self, keys: tuple[str, ...], types: tuple[type, ...]) -> None:
        self.keys = keys
        self.types = types
        self.values: list[object] = []
        self.steps: list[int] = []
        self.times: list[float] = []

    def __len__(self) -> int:
        return len(self.steps)

    def column(self, j: int) -> list[object]:
        return self.values[j :: len(self.keys)]

    def kinds(self) -> tuple[str, ...]:
        return tuple(KIND_OF_TYPE[t] for t in self.types)


class HistoryBuffer:
    """Buffered history rows of one run, appended by the logging thread, taken by the writer."""

    __slots__ = ("_lock", "_chunks", "_cur", "rows_logged", "step")

    def __init__(self, step: int = 0) -> None:
        self._lock = threading.Lock()
        self._chunks: list[Chunk] = []
        self._cur: Chunk | None = None
        self.rows_logged = 0
        self.step = step  # the step the next row gets unless one is given

    def append_like_last(self, data: Mapping[str, object]) -> bool:
        """Append `data` at the next step if it has exactly the last row's shape; else False.

        The caller's normaliser produced the last row, so a row of the same keys and value
        types needs no normalising: it is stored as it is. `disarm()` turns this off until
        the next `append()`.
        """
        with self._lock:
            cur = self._cur
            if cur is None or type(data) is not dict or tuple(data) != cur.keys:
                return False
            values = data.values()
            if tuple(map(type, values)) != cur.types:
                return False
            cur.values.extend(values)
            cur.steps.append(self.step)
            cur.times.append(_now())
            self.step += 1
            self.rows_logged += 1
            return True

    def append(self, keys: tuple[str, ...], values: Iterable[object], step: int) -> None:
        """Append a normalised row (values of known kinds, in the order of `keys`) at `step`."""
        values = tuple(values)
        types = tuple(map(type, values))
        with self._lock:
            cur = self._cur
            if cur is None or cur.keys != keys or cur.types != types:
                cur = Chunk(keys, types)
                self._chunks.append(cur)
                self._cur = cur
            cur.values.extend(values)
            cur.steps.append(step)
            cur.times.append(_now())
            self.step = step + 1
            self.rows_logged += 1

    def disarm(self) -> None:
        """Send the next rows through the caller's slow path (e.g. while a step is pending)."""
        with self._lock:
            self._cur = None

    def take(self) -> list[Chunk]:
        """Remove and return every buffered chunk, oldest first."""
        with self._lock:
            chunks = self._chunks
            if not chunks:
                return chunks
            self._chunks = []
            self._cur = None
            return chunks

    def __len__(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._chunks)

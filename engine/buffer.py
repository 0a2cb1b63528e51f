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

The hot path itself (a row shaped like the last, into an all-number chunk) is a `Lane`:
compiled from engine/_native.c by the package's build, else the pure-Python `PyLane` below,
the same rules either way (RUNLAKE_NATIVE=0 picks the Python one; a missing build is
announced once). Steps and timestamps go to typed arrays too. The writer thread swaps the chunk list out
under the same lock; nothing here does I/O. Backpressure: once the oldest row not yet taken is
older than `max_lag` seconds (set by the writer while it is healthy), an append waits for the
writer's next take (at most MAX_WAIT), so a writer that falls behind slows the logger down
instead of letting the crash-loss window grow.
"""

from __future__ import annotations

import os
import threading
import warnings
from array import array
from collections.abc import Iterable, Mapping
from time import time as _now

import numpy as np

from .kinds import FLOAT, KIND_OF_TYPE

_INF = float("inf")
# Rows per chunk (engine/_native.c has the same): the writer converts a chunk at a time, so a
# writer that fell behind holds a few chunks' worth of copies, never the whole backlog's.
CHUNK_ROWS = 32768
CHUNK_VALUES = 1 << 20  # and values: a wide row fills a chunk in fewer rows
# Values in chunks the writer has not taken yet past which a new chunk waits for its take
# (bounded by MAX_WAIT): with the time-based max_lag, what keeps the buffer's memory small at
# any logging rate (about 32 MiB of floats).
MAX_UNTAKEN_VALUES = 4 * CHUNK_VALUES


def _full(n: int, width: int) -> bool:
    return n >= CHUNK_ROWS or (n > 0 and (n + 1) * width > CHUNK_VALUES)
# The longest one append waits for the writer's take (it is woken as soon as the writer takes,
# or stops throttling on a write error): a writer stuck longer than this never hangs log().
MAX_WAIT = 5.0


class PyRows:
    """Rows of one all-number chunk in Python arrays: the fallback of engine/_native.c's Rows."""

    __slots__ = ("keys", "values", "steps", "times")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.values = array("d")
        self.steps = array("q")
        self.times = array("d")

    def __len__(self) -> int:
        return len(self.steps)

    def push(self, values: tuple[float, ...], step: int, time: float) -> None:
        self.values.extend(values)
        self.steps.append(step)
        self.times.append(time)

    def values_bytes(self) -> array[float]:
        return self.values

    def steps_bytes(self) -> array[int]:
        return self.steps

    def times_bytes(self) -> array[float]:
        return self.times

    def first_step(self) -> int | None:
        return self.steps[0] if self.steps else None

    def first_time(self) -> float | None:
        return self.times[0] if self.times else None


class PyLane:
    """The hot path's state in Python: the fallback of engine/_native.c's Lane, same rules."""

    __slots__ = ("_lock", "cur", "armed", "step", "rows_logged", "deadline")

    def __init__(self, lock: threading.Lock, step: int = 0) -> None:
        self._lock = lock
        self.cur: PyRows | None = None
        self.armed = False
        self.step = step
        self.rows_logged = 0
        self.deadline = _INF

    def append_like_last(self, data: Mapping[str, object]) -> int:
        """0: not taken (the caller's slow path runs), 1: appended, 2: appended and the
        writer is behind (the caller waits)."""
        with self._lock:
            cur = self.cur
            if (not self.armed or cur is None or type(data) is not dict
                    or _full(len(cur.steps), len(cur.keys)) or tuple(data) != cur.keys):
                return 0
            values = cur.values
            size = len(values)
            for v in data.values():  # what the C lane reads without running Python code
                if type(v) not in NUMBER_TYPES and not isinstance(v, float):
                    return 0
            try:
                values.extend(data.values())  # type: ignore[arg-type]
            except Exception:  # an int too big for a double
                del values[size:]
                return 0
            now = _now()
            cur.steps.append(self.step)
            cur.times.append(now)
            self.step += 1
            self.rows_logged += 1
            return 2 if now > self.deadline else 1


# Values an all-number chunk takes as they are: float (and subclasses), int, bool, and
# numpy's scalars, whose conversion to a double is their own C code.
NUMBER_TYPES = frozenset({float, int, bool, np.bool_, np.float16, np.float32, np.float64,
                          np.int8, np.int16, np.int32, np.int64,
                          np.uint8, np.uint16, np.uint32, np.uint64})


def _lane_types() -> tuple[type, type]:
    if os.environ.get("RUNLAKE_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return PyLane, PyRows
    try:
        from . import _native

        if (_native.CHUNK_ROWS, _native.CHUNK_VALUES) != (CHUNK_ROWS, CHUNK_VALUES):
            raise ImportError("it was built from another version of engine/_native.c")
    except ImportError as e:  # not built (no compiler at install time): said once, then Python
        warnings.warn(f"runlake: the compiled history buffer is not available ({e}); "
                      "log() runs the pure-Python buffer, which is slower. Reinstall runlake "
                      "with a C compiler present to build it.", RuntimeWarning, stacklevel=2)
        return PyLane, PyRows
    _native.set_number_types(tuple(t for t in NUMBER_TYPES if t not in (float, int, bool)))
    return _native.Lane, _native.Rows


Lane, Rows = _lane_types()
NATIVE = Lane is not PyLane


class Chunk:
    """Rows of one shape: `keys`, their value `types`, row-major `values`, `steps`, `times`.

    An all-number chunk keeps them in a `Rows` (the hot path appends there); others keep the
    values in a flat list and steps and times in arrays."""

    __slots__ = ("keys", "types", "floats", "rows", "_values", "_steps", "_times", "_matrix")

    def __init__(self, keys: tuple[str, ...], types: tuple[type, ...]) -> None:
        self.keys = keys
        self.types = types
        self.floats = bool(keys) and all(KIND_OF_TYPE[t] == FLOAT for t in types)
        self.rows = Rows(keys) if self.floats else None
        self._values: list[object] = []
        self._steps = array("q")
        self._times = array("d")
        self._matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows) if self.rows is not None else len(self._steps)

    def push(self, values: tuple[object, ...], step: int, time: float) -> None:
        if self.rows is not None:
            self.rows.push(values, step, time)
        else:
            self._values.extend(values)
            self._steps.append(step)
            self._times.append(time)

    @property
    def values(self) -> np.ndarray | list[object]:
        """Row-major values: float64 for an all-number chunk, else the list."""
        if self.rows is not None:
            return np.frombuffer(self.rows.values_bytes(), dtype=np.float64)
        return self._values

    @property
    def steps(self) -> np.ndarray:
        if self.rows is not None:
            return np.frombuffer(self.rows.steps_bytes(), dtype=np.int64)
        return np.frombuffer(self._steps, dtype=np.int64)

    @property
    def times(self) -> np.ndarray:
        if self.rows is not None:
            return np.frombuffer(self.rows.times_bytes(), dtype=np.float64)
        return np.frombuffer(self._times, dtype=np.float64)

    def first_time(self) -> float | None:
        if self.rows is not None:
            return self.rows.first_time()
        return self._times[0] if self._times else None

    def column(self, j: int) -> np.ndarray | list[object]:
        """Column `j`: a float64 view for an all-number chunk, else a list of the values."""
        width = len(self.keys)
        if self.rows is not None:
            matrix = self._matrix
            if matrix is None or matrix.shape[0] != len(self.rows):  # one copy for all columns
                matrix = self._matrix = self.values.reshape(-1, width)
            return matrix[:, j]
        return self._values[j::width] if width > 1 else self._values  # type: ignore[return-value]

    def kinds(self) -> tuple[str, ...]:
        return tuple(KIND_OF_TYPE[t] for t in self.types)


class HistoryBuffer:
    """Buffered history rows of one run, appended by the logging thread, taken by the writer.

    Every change is made under `_lock`; the lane's own append (native or not) takes no row
    while the lock is held, so a Python-side change is never interleaved with one."""

    __slots__ = ("_lock", "_taken", "_chunks", "_cur", "_max_lag", "_sealed", "lane")

    def __init__(self, step: int = 0) -> None:
        self._lock = threading.Lock()
        self._taken = threading.Condition(self._lock)  # notified by take()
        self._chunks: list[Chunk] = []
        self._cur: Chunk | None = None  # the chunk the next row of its shape goes to
        self._max_lag: float | None = None  # None: never wait (no writer, or a failing one)
        self._sealed = 0  # values in the untaken chunks before the current one
        # The hot path's state: the current all-number rows, whether append_like_last may take
        # a row (see disarm), the next step, the rows logged, and when the oldest untaken row
        # is max_lag old (inf when none).
        self.lane = Lane(self._lock, step)

    @property
    def step(self) -> int:
        """The step the next row gets unless one is given."""
        return self.lane.step

    @step.setter
    def step(self, value: int) -> None:
        self.lane.step = value

    @property
    def rows_logged(self) -> int:
        return self.lane.rows_logged

    def wait_for_writer(self) -> None:
        """After an append past the deadline: wait for the writer's next take (bounded)."""
        with self._lock:
            if _now() > self.lane.deadline:
                self._taken.wait(MAX_WAIT)

    def append_like_last(self, data: Mapping[str, object]) -> bool:
        """Append `data` at the next step if it has exactly the last row's shape; else False.

        The caller's normaliser produced the last row, so a row of the same shape needs no
        normalising: it is stored as it is. `disarm()` turns this off until the next
        `append()`.
        """
        got = self.lane.append_like_last(data)
        if got:
            if got == 2:
                self.wait_for_writer()
            return True
        return self.append_objects_like_last(data)

    def append_objects_like_last(self, data: Mapping[str, object]) -> bool:
        """The same for a chunk that is not all numbers: the value types must match."""
        with self._lock:
            cur, lane = self._cur, self.lane
            if (not lane.armed or cur is None or cur.rows is not None or type(data) is not dict
                    or _full(len(cur), len(cur.keys)) or tuple(data) != cur.keys):
                return False
            new = data.values()
            if tuple(map(type, new)) != cur.types:
                return False
            now = _now()
            cur.push(tuple(new), lane.step, now)
            lane.step += 1
            lane.rows_logged += 1
            if now > lane.deadline:
                self._taken.wait(MAX_WAIT)
            return True

    def append(self, keys: tuple[str, ...], values: Iterable[object], step: int) -> None:
        """Append a normalised row (values of known kinds, in the order of `keys`) at `step`.

        A row of the last row's shape joins its chunk whatever path it took (`step=`,
        `commit=False`, nested dicts), so the writer converts one chunk, not one per row.
        """
        values = tuple(values)
        types = tuple(map(type, values))
        now = _now()
        with self._lock:
            lane = self.lane
            cur = self._cur
            new = cur is None or cur.keys != keys or cur.types != types or _full(len(cur), len(keys))
            if new and cur is not None:
                self._sealed += len(cur) * max(1, len(cur.keys))
                if self._sealed >= MAX_UNTAKEN_VALUES and self._max_lag is not None:
                    self._taken.wait(MAX_WAIT)  # the writer is behind: let it take first
            if not self._chunks and self._max_lag is not None:
                lane.deadline = now + self._max_lag
            if new:
                cur = Chunk(keys, types)
                self._chunks.append(cur)
                self._cur = cur
                lane.cur = cur.rows
            cur.push(values, step, now)
            lane.step = step + 1
            lane.rows_logged += 1
            lane.armed = True
            if now > lane.deadline:
                self._taken.wait(MAX_WAIT)

    def disarm(self) -> None:
        """Send the next rows through the caller's slow path (e.g. while a step is pending)
        until the next `append()`; the current chunk stays open to rows of its shape."""
        with self._lock:
            self.lane.armed = False

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
            self._sealed = 0
            lane = self.lane
            lane.cur = None  # before the lock is released: no append reaches a taken chunk
            lane.armed = False
            lane.deadline = _INF
            self._taken.notify_all()
            return chunks

    def throttle(self, max_lag: float | None) -> None:
        """Make appends wait for the writer once the oldest untaken row is `max_lag` seconds
        old; None turns it off (the writer is stopping, or retrying a failed write: training
        must go on then, with the rows kept in memory)."""
        with self._lock:
            self._max_lag = max_lag
            if max_lag is None:
                self.lane.deadline = _INF
                self._taken.notify_all()
            elif self._chunks:
                firsts = [c.first_time() for c in self._chunks]
                oldest = min((t for t in firsts if t is not None), default=_INF)
                self.lane.deadline = oldest + max_lag

    def __len__(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._chunks)

"""Console capture: what the program writes to sys.stdout and sys.stderr, copied to
`output.log` in the run's files (run.dir), as wandb's `console="wrap"` does.

Each stream's `write` and `writelines` are patched on the stream object itself, as wandb's
wrap does: the stream keeps its type, and code that took a reference to it before init (a
logging handler, a progress bar) is captured too. A stream whose attributes cannot be set
is replaced in `sys` by a `_Tee` instead. A write goes to the original stream first (the
user still sees it, and its errors are the original's), then, as text, into an in-memory
list under a lock. A daemon thread appends that list to the file every FLUSH_INTERVAL, or
sooner once FLUSH_BYTES are waiting, so a print does no file I/O of its own. `stop()` undoes
the patches (one patched over since by someone else is left in place, passing writes
through) and writes the rest.

The file is UTF-8: text that cannot be encoded (lone surrogates from undecodable bytes) is
written backslash-escaped, never dropped. Writes are stored as they come (a partial line, a
`\r` progress bar), in the order the lock saw them. Not captured: what bypasses the Python
stream objects (writes to `sys.stdout.buffer`, to file descriptors 1/2, by C code or a
subprocess), and writes from a forked child process.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
import weakref
from pathlib import Path
from typing import Any, TextIO

FLUSH_INTERVAL = 1.0  # seconds: the most a killed process's output.log lags behind
FLUSH_BYTES = 1 << 20  # waiting text that wakes the flush thread early
MAX_BACKLOG = 64 << 20  # text kept while the file cannot be written; older text goes first
STOP_TIMEOUT = 10.0


# Captures started in this process; a forked child (a DataLoader worker) turns them off.
_live: weakref.WeakSet[ConsoleCapture] = weakref.WeakSet()


def _after_fork() -> None:
    for capture in list(_live):
        capture._forked = True


os.register_at_fork(after_in_child=_after_fork)


class _Tee:
    """Writes to a stream, then to the capture while one is set. Its `write` is patched onto
    the stream, or the tee stands in for the stream (`__getattr__` passes the rest on)."""

    def __init__(self, stream: TextIO, capture: ConsoleCapture) -> None:
        self._stream = stream
        self._write = stream.write  # the original (or whatever patch was there before)
        self._capture: ConsoleCapture | None = capture

    def write(self, s: Any) -> Any:
        n = self._write(s)
        capture = self._capture
        if capture is not None:
            if type(s) is str and not capture._forked:  # the usual case, inlined
                with capture._lock:
                    capture._chunks.append(s)
                    capture._waiting += len(s)
                if capture._waiting >= FLUSH_BYTES:
                    capture._wake.set()
            else:
                capture.add(s)
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, buffer, fileno, isatty, ...
        return getattr(self._stream, name)

    def __repr__(self) -> str:
        return f"<runlake console tee of {self._stream!r}>"


_PATCHED = ("write", "writelines")


class _Hook:
    """One captured stream: patched in place, or replaced in `sys` by its tee."""

    def __init__(self, name: str, stream: Any, capture: ConsoleCapture) -> None:
        self.name, self.stream = name, stream
        self.tee = _Tee(stream, capture)
        self.methods = {"write": self.tee.write, "writelines": self.tee.writelines}
        try:
            own = vars(stream)
            self.saved = {n: own[n] for n in _PATCHED if n in own}  # earlier patches
            for n in _PATCHED:
                setattr(stream, n, self.methods[n])
            self.patched = True
        except (AttributeError, TypeError):  # no __dict__ (slots, a C type): replace it
            self._undo_patch()
            setattr(sys, name, self.tee)
            self.patched = False

    def _undo_patch(self) -> None:
        try:
            own = vars(self.stream)
        except TypeError:
            return
        if any(own.get(n) is not m for n, m in self.methods.items() if n in own):
            return  # patched over since by someone else: theirs calls ours, which passes on
        for n in _PATCHED:
            if n in self.saved:
                setattr(self.stream, n, self.saved[n])
            elif n in own:
                delattr(self.stream, n)

    def remove(self) -> None:
        self.tee._capture = None
        if self.patched:
            self._undo_patch()
        elif getattr(sys, self.name) is self.tee:
            setattr(sys, self.name, self.stream)


class ConsoleCapture:
    """Tees sys.stdout and sys.stderr into `path` between `start()` and `stop()`."""

    def __init__(self, path: Path, *, flush_interval: float = FLUSH_INTERVAL) -> None:
        self.path = path
        self.flush_interval = flush_interval
        self._forked = False  # set in a forked child (see _after_fork)
        # Reentrant: a signal handler that prints runs in the main thread, maybe while that
        # thread is inside add() holding the lock.
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()  # one flush at a time: the thread, or a SIGTERM's
        self._chunks: list[str] = []
        self._waiting = 0  # characters in _chunks
        self._backlog = b""  # encoded text a failed write left, written first next time
        self.dropped = 0  # bytes given up while the file could not be written
        self._file: Any = None
        self._hooks: list[_Hook] = []
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="runlake-console", daemon=True)
        self._warned = False

    def start(self) -> None:
        _live.add(self)
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None:  # None under pythonw, or closed on purpose
                self._hooks.append(_Hook(name, stream, self))
        self._thread.start()

    def add(self, s: Any) -> None:
        if self._forked:
            return  # a forked child has no flush thread: it would only pile up
        if not isinstance(s, str):
            if not isinstance(s, (bytes, bytearray)):
                return
            s = bytes(s).decode("utf-8", "backslashreplace")
        with self._lock:
            self._chunks.append(s)
            self._waiting += len(s)
            wake = self._waiting >= FLUSH_BYTES
        if wake:
            self._wake.set()

    def stop(self) -> None:
        """Restore the streams, write what is waiting, close the file."""
        for hook in self._hooks:
            hook.remove()
        _live.discard(self)
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                self.flush()
        finally:
            self.flush()
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:
                    pass

    def flush(self) -> None:
        with self._write_lock:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            chunks, self._chunks, self._waiting = self._chunks, [], 0
        data = self._backlog + "".join(chunks).encode("utf-8", "backslashreplace")
        if not data:
            return
        view = memoryview(data)
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - held open
            while view:  # an unbuffered write may be short
                view = view[self._file.write(view):]
            self._backlog = b""
        except OSError as exc:
            rest = bytes(view)  # what a short write left unwritten, not what it wrote
            self._backlog = rest[-MAX_BACKLOG:]
            self.dropped += len(rest) - len(self._backlog)
            self._report(exc)

    def _report(self, exc: OSError) -> None:
        if self._warned:
            return
        self._warned = True
        warnings.warn(
            f"runlake: cannot write the console to {self.path} ({type(exc).__name__}: {exc}); "
            f"it is kept in memory (up to {MAX_BACKLOG >> 20} MB) and written when it can be",
            RuntimeWarning, stacklevel=2,
        )

"""Files that history rows refer to (media), written by the writer thread before those rows.

The logging thread queues a file (a path relative to the run's files directory and its bytes)
*before* it appends the row that refers to it; the writer takes the buffer's rows first and
then this queue, and writes the files before it appends the rows to the WAL. So a row that is
durable never names a file that is not on disk (docs/DESIGN.md, "Media").

File names carry a hash of their bytes: a name that exists already holds the same bytes and
is not written again. Each file is written to a hidden temporary name and renamed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .errors import InvalidNameError
from .layout import is_valid_name

_TMP = ".tmp-"


def check_relative(path: str) -> str:
    """`path` if every `/`-separated part is a safe name (engine.layout's rule), else refuse."""
    parts = path.split("/")
    if not parts or not all(is_valid_name(p) for p in parts):
        raise InvalidNameError(f"unsafe file path {path!r} in the run's files directory")
    return path


class FileQueue:
    """Files waiting to be written into one run's files directory, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: list[tuple[str, bytes]] = []
        self.bytes_waiting = 0

    def put(self, path: str, data: bytes) -> None:
        """Queue `data` for `<files dir>/<path>` (no I/O: the writer thread writes it)."""
        check_relative(path)
        with self._lock:
            self._files.append((path, data))
            self.bytes_waiting += len(data)

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    def write(self, files_dir: Path, fsync: bool = False) -> int:
        """Write every queued file; returns how many. On an error the unwritten files stay
        queued (in order) and the error is raised, for the writer to report and retry."""
        with self._lock:
            files, self._files = self._files, []
        done = 0
        try:
            for path, data in files:
                write_file(files_dir / path, data, fsync)
                done += 1
        finally:
            if done < len(files):
                with self._lock:
                    self._files[:0] = files[done:]
            with self._lock:
                self.bytes_waiting = sum(len(d) for _, d in self._files)
        return done


def write_file(target: Path, data: bytes, fsync: bool = False) -> None:
    """Write `data` to `target` by temporary file and rename, unless it exists already."""
    if target.exists() and target.stat().st_size == len(data):
        return  # content-addressed name: the same bytes
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{_TMP}{target.name}.{os.getpid()}.{threading.get_ident()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

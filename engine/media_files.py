"""Media files that history rows refer to, written by a thread of their own before the rows
that name them are made durable.

The logging thread queues a file (a path relative to the run's files directory and its bytes)
*before* it appends the row that refers to it; the run's writer takes the buffer's rows first,
then waits until every file queued so far is written (`settle`), and only then appends the
rows to the WAL. So a row that is durable never names a file that is not on disk
(docs/DESIGN.md, "Media").

File names carry a hash of their bytes: a name that exists already holds the same bytes and
is not written again. Each file is written to a hidden temporary name and renamed.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path

from runlake.errors import InvalidNameError
from .atomic import replacing
from .files import TMP_PREFIX as _TMP  # readers of run files skip these names
from .layout import is_valid_name


def check_relative(path: str) -> str:
    """`path` if every `/`-separated part is a safe name (engine.layout's rule), else refuse."""
    parts = path.split("/")
    if not parts or not all(is_valid_name(p) for p in parts):
        raise InvalidNameError(f"unsafe file path {path!r} in the run's files directory")
    return path


class FileQueue:
    """Files waiting to be written into one run's files directory, oldest first.

    Once started, a thread of its own writes each file as soon as it is queued (file writes
    release the GIL, so they overlap the training loop), and `settle()` lets the run's writer
    wait for every file queued so far before it makes the rows that name them durable.
    Without `start()`, `settle()` writes the queued files itself.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._files: deque[tuple[str, bytes]] = deque()
        self._queued = 0
        self._written = 0
        self._dir: Path | None = None
        self._fsync = False
        self._thread: threading.Thread | None = None
        self._closing = False
        self.error: BaseException | None = None  # the last write's error, None once one works

    def put(self, path: str, data: bytes) -> None:
        """Queue `data` for `<files dir>/<path>` (no I/O here)."""
        check_relative(path)
        with self._cond:
            self._files.append((path, data))
            self._queued += 1
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._files)

    def start(self, files_dir: Path, fsync: bool = False) -> None:
        self._dir, self._fsync = files_dir, fsync
        self._thread = threading.Thread(target=self._loop, name="runlake-media-files", daemon=True)
        self._thread.start()

    def settle(self, files_dir: Path, fsync: bool = False) -> None:
        """Return once every file queued before this call is written; raise the write error
        that holds one back (the files stay queued and are retried)."""
        if self._thread is None:
            self._write_all(files_dir, fsync)
            return
        with self._cond:
            target = self._queued
            while self._written < target:
                if self.error is not None:
                    raise self.error
                if not self._thread.is_alive():
                    raise RuntimeError("the media file writer stopped")
                self._cond.wait(0.5)

    def close(self) -> None:
        """Stop the thread once the queue is empty, or at once if writing keeps failing."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        pause = 0.05
        while True:
            with self._cond:
                while not self._files and not self._closing:
                    self._cond.wait()
                if not self._files or (self._closing and self.error is not None):
                    return
                path, data = self._files[0]
            try:
                assert self._dir is not None
                write_file(self._dir / path, data, self._fsync)
            except Exception as exc:  # disk full, read-only: the run's writer reports it
                with self._cond:
                    self.error = exc
                    self._cond.notify_all()
                    self._cond.wait(pause)  # retry, slower and slower up to 2 s
                pause = min(2 * pause, 2.0)
                continue
            pause = 0.05
            with self._cond:
                self._files.popleft()
                self._written += 1
                self.error = None
                self._cond.notify_all()

    def _write_all(self, files_dir: Path, fsync: bool) -> None:
        while True:
            with self._cond:
                if not self._files:
                    return
                path, data = self._files[0]
            write_file(files_dir / path, data, fsync)
            with self._cond:
                self._files.popleft()
                self._written += 1


def link_media(parent_files: Path, child_files: Path) -> int:
    """Give a fork the parent's media files (its copied rows name them): hard links, as the
    files never change, or copies across filesystems. Returns the files linked."""
    import shutil

    source = parent_files / "media"
    done = 0
    for folder, _, names in os.walk(source):
        rel = Path(folder).relative_to(source)
        for name in names:
            if name.startswith(_TMP):
                continue
            target = child_files / "media" / rel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(Path(folder) / name, target)
            except FileExistsError:
                continue
            except OSError:
                shutil.copy2(Path(folder) / name, target)
            done += 1
    return done


_made: set[Path] = set()  # folders this process made (a mkdir per file costs as much as the file)


def write_file(target: Path, data: bytes, fsync: bool = False) -> None:
    """Write `data` to `target` by temporary file and rename, unless it exists already."""
    if target.exists() and target.stat().st_size == len(data):
        return  # content-addressed name: the same bytes
    if target.parent not in _made:
        target.parent.mkdir(parents=True, exist_ok=True)
        _made.add(target.parent)
    tmp = target.parent / f"{_TMP}{target.name}.{os.getpid()}.{threading.get_ident()}"
    # The file's bytes are synced with `fsync`, the folder never: a lost name is written again.
    with replacing(target, fsync=fsync, fsync_dir=False, tmp=tmp):
        try:
            f = open(tmp, "wb")
        except FileNotFoundError:  # the folder was removed since: make it again
            target.parent.mkdir(parents=True, exist_ok=True)
            f = open(tmp, "wb")
        with f:
            f.write(data)

"""Run ownership: one process writes a run at a time, and a dead owner is detectable.

The owner holds a POSIX record lock (`fcntl.lockf`) on `runs/.../lock` for the run's life.
The kernel drops it when the process dies, however it dies (kill -9, OOM), so "the lock is
free" means "nobody is writing this run" on this machine: what recovery and resume need.
POSIX record locks are not inherited by fork(), so a DataLoader worker does not keep a dead
trainer's run alive; but closing any descriptor of the file drops the process's lock, so
this module keeps one descriptor per run per process and never opens, in the process that
holds it, a lock file it holds.

On a network filesystem without POSIX locks, `lockf` may fail or not exclude: runlake's
store is meant to be local (docs/DESIGN.md).
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading

from runlake.errors import RunInUseError
from . import live
from .layout import RunPaths

_HELD: dict[str, int] = {}  # lock file path -> descriptor, for the locks this process holds
_GUARD = threading.Lock()


class RunLock:
    """This process's ownership of a run; `release()` (or process death) gives it up."""

    def __init__(self, paths: RunPaths, registered: bool = False) -> None:
        self.paths = paths
        self._key = str(paths.lock_file)
        self._registered = registered

    def release(self) -> None:
        with _GUARD:
            fd = _HELD.pop(self._key, None)
        if fd is not None:
            if self._registered:  # an entry a dead owner left stays, for its recoverer
                live.remove(self.paths)
            os.close(fd)  # closing drops the lock

    @property
    def held(self) -> bool:
        with _GUARD:
            return self._key in _HELD


def acquire(paths: RunPaths) -> RunLock:
    """Own the run, or raise RunInUseError if a live process (this one included) does."""
    key = str(paths.lock_file)
    with _GUARD:
        if key in _HELD:
            raise RunInUseError(_in_use(paths, "this process"))
        paths.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(key, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunInUseError(_in_use(paths, "another process")) from None
        _HELD[key] = fd
    # Before the owner writes anything a recoverer would need to find (engine/live.py).
    return RunLock(paths, registered=live.add(paths))


def is_live(paths: RunPaths) -> bool:
    """Whether some live process on this machine owns the run (a test: the lock stays free)."""
    key = str(paths.lock_file)
    with _GUARD:
        if key in _HELD:
            return True
        mode = fcntl.LOCK_EX
        try:
            fd = os.open(key, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False  # never owned under this format, or deleted
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            # A store this process may only read: a shared lock needs read access only and
            # conflicts with the owner's exclusive one just the same.
            fd = os.open(key, os.O_RDONLY | os.O_CLOEXEC)
            mode = fcntl.LOCK_SH
        try:
            fcntl.lockf(fd, mode | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # also drops the test lock if it was taken
        return False


def _in_use(paths: RunPaths, who: str) -> str:
    return (f"run {paths.entity}/{paths.project}/{paths.run_id} is being written by {who}; "
            "two processes never write one run: use another id, or wait for it to finish")

"""`Run.save` and `Run.restore`: copying files into a run's files folder (`run.dir`) and back.

wandb symlinks saved files into its run folder and uploads them; here the files folder *is*
the store, so a saved file is copied there (engine/files.py: whole files only, never outside
the folder). The three policies:

- "now": copied once, when save() is called;
- "live": copied at once, then again whenever it changes while the run lives (a daemon
  thread compares each file's (mtime, size, inode) every `Settings.file_poll_interval`
  seconds, 0.5 by default), and a last time at finish (or detach, or SIGTERM);
- "end": copied at finish (or detach, or SIGTERM: the process ends without finish()).

Globs are expanded when save() is called: a file created later needs another save().
"""

from __future__ import annotations

import glob as _glob
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePath
from collections.abc import Callable
from typing import IO, Any, Literal

from runlake.errors import InvalidValueError, RunFileError
from runlake.engine.files import copy_into, file_path, validate_file_name
from runlake.engine.layout import RunPaths, default_entity, resolve_root

from runlake.tracking.handle import RunHandle

Policy = Literal["live", "now", "end"]
POLICIES = ("live", "now", "end")

# A stamp equal to the last copy's can still hide a change made in the same mtime tick
# (coarse clocks tick every few ms): trust it only once the file's mtime is this much older
# than the copy (git's "racy clean" rule).
_RACY = 1.0


@dataclass
class _Saved:
    source: Path
    policy: Policy
    stamp: tuple[int, int, int] | None = None  # (mtime_ns, size, inode) before the last copy
    copied_at: float = 0.0


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FileSync:
    """The files one run saved: copies them into its files folder by policy."""

    def __init__(self, files_dir: Path, interval: float) -> None:
        self.files_dir = files_dir
        self._interval = interval
        self._saved: dict[Path, _Saved] = {}  # target -> what is copied there
        self._lock = threading.Lock()  # one copy at a time: no stale copy renamed over a new one
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors: list[str] = []

    def add(self, source: Path, target: Path, policy: Policy) -> None:
        with self._lock:
            entry = _Saved(source, policy)
            if policy == "end":
                self._saved[target] = entry
                return
            self._saved.pop(target, None)
            self._copy(entry, target, strict=True)
            if policy == "live":
                self._saved[target] = entry
                self._start()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="runlake-files", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                for target, entry in list(self._saved.items()):
                    if entry.policy == "live" and self._changed(entry):
                        self._copy(entry, target, strict=False)

    @staticmethod
    def _changed(entry: _Saved) -> bool:
        try:
            stamp = _stamp(entry.source)
        except OSError:
            return False  # gone (or unreadable) for now: the last copy stays
        racy = stamp[0] / 1e9 > entry.copied_at - _RACY
        return stamp != entry.stamp or racy

    def _copy(self, entry: _Saved, target: Path, strict: bool) -> None:
        """Copy `entry.source` to `target`; errors raise when `strict`, else are kept for the
        warning at finish (a background copy must not stop training)."""
        try:
            stamp, started = _stamp(entry.source), time.time()
            copy_into(entry.source, target, self.files_dir)
        except OSError as exc:
            if strict:
                raise
            message = f"{entry.source}: {type(exc).__name__}: {exc}"
            if message not in self._errors:
                self._errors.append(message)
            return
        entry.stamp, entry.copied_at = stamp, started

    def flush(self) -> None:
        """Copy the "end" files and the changed "live" ones now (at finish, detach, SIGTERM)."""
        with self._lock:
            for target, entry in self._saved.items():
                if entry.policy == "end" and not entry.source.exists():
                    message = f"{entry.source}: saved with policy='end', gone at finish"
                    if message not in self._errors:
                        self._errors.append(message)
                elif entry.policy == "end" or self._changed(entry):
                    self._copy(entry, target, strict=False)

    def close(self) -> None:
        """At finish: stop watching, make the last copies, warn about what could not be."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
        with self._lock:
            self._saved.clear()
        if self._errors:
            warnings.warn(
                "runlake: some saved files could not be copied into the run (the last copy of "
                "each is kept): " + "; ".join(self._errors), RuntimeWarning, stacklevel=4,
            )


def save(run: RunHandle, sync_of: Callable[[], FileSync], glob_str: Any = None,
         base_path: Any = None, policy: Any = "live") -> bool | list[str]:
    """Copy the files matching `glob_str` into `run.dir`, at the path wandb's rules give
    (relative to `base_path`; see Run.save); the copies' paths, sorted. `sync_of` gives the
    run's FileSync, made by its first save (`file_sync`)."""
    if glob_str is None:
        warnings.warn("runlake: save() with no glob does nothing (wandb's legacy form); pass "
                      "the files to save", DeprecationWarning, stacklevel=3)
        return True
    if isinstance(glob_str, bytes):
        glob_str = glob_str.decode("utf-8")
    if isinstance(glob_str, os.PathLike):
        glob_str = os.fspath(glob_str)
    if not isinstance(glob_str, str) or not glob_str:
        raise InvalidValueError(
            f"save(glob_str=...) takes a path or glob string, got {type(glob_str).__name__} "
            f"{glob_str!r}"
        )
    if policy not in POLICIES:
        raise InvalidValueError(
            f"save(policy=...) must be 'live', 'now' or 'end', got {type(policy).__name__} "
            f"{policy!r}"
        )
    if "://" in glob_str:
        warnings.warn(f"runlake: {glob_str} is a URL; save() copies local files (log a URL with "
                      "an artifact's add_reference())", UserWarning, stacklevel=3)
        return []
    if run.paths is None:
        return []  # mode="disabled": a no-op
    run.require_live("save()")
    files_dir = run.paths.files_dir
    glob_path, base = _glob_and_base(glob_str, base_path, files_dir)
    relative = glob_path.parts[len(base.parts):]
    pattern = str(PurePath(*relative))
    # What the run already has under the glob counts too, as in wandb.
    matched = {p for p in files_dir.glob(pattern) if p.is_file() and not p.name.startswith(".tmp-")}
    sync = sync_of()
    found, folders = 0, []
    # The working folder is a literal prefix ("[" in a folder name is not a pattern); an
    # explicit or absolute base may be a glob, as in wandb.
    literal = base_path is None and not PurePath(glob_str).is_absolute()
    search = os.path.join(_glob.escape(str(base)) if literal else str(base), pattern)
    for hit in sorted(_glob.glob(search, recursive=True)):
        source = Path(os.path.abspath(hit))
        if not source.is_file():
            folders.append(hit)  # a folder is saved by a glob of its files
            continue
        found += 1
        target = file_path(files_dir, "/".join(source.parts[len(base.parts):]))
        matched.add(target)
        if target.exists() and os.path.samefile(source, target):
            continue  # already the run's own file
        sync.add(source, target, policy)
    if not found:
        hint = "globs are expanded when save() is called: call it again once the files exist"
        if folders:
            shown = glob_str.rstrip("/") if len(folders) == 1 else folders[0]
            hint = f"{shown} is a folder: save '{shown}/*' (or '{shown}/**') instead"
        warnings.warn(f"runlake: save({glob_str!r}) matched no file now; {hint}",
                      UserWarning, stacklevel=3)
    return sorted(str(p) for p in matched)


def _glob_and_base(glob_str: str, base_path: Any, files_dir: Path) -> tuple[PurePath, PurePath]:
    """The absolute glob and the folder its matches are stored relative to (wandb's rules)."""
    glob_path = PurePath(os.path.abspath(glob_str))
    if base_path is not None:
        if isinstance(base_path, bytes):
            base_path = base_path.decode("utf-8")
        if not isinstance(base_path, (str, os.PathLike)):
            raise InvalidValueError(
                f"save(base_path=...) takes a folder path, got {type(base_path).__name__} "
                f"{base_path!r}"
            )
        base = PurePath(os.path.abspath(base_path))
    elif not PurePath(glob_str).is_absolute():
        base = PurePath(os.getcwd())
    elif glob_path.is_relative_to(files_dir):
        base = PurePath(files_dir)  # a file already in run.dir keeps its place there
    else:
        # wandb: an absolute glob without base_path keeps one folder level ("run123/*.txt").
        base = glob_path.parent.parent
    if glob_path.parts[:len(base.parts)] != base.parts:
        raise InvalidValueError(
            f"save({glob_str!r}, base_path={os.fspath(base_path) if base_path is not None else None!r})"
            f": the glob is not under the base path {base}; pass a base_path that is a prefix "
            "of the glob (a glob may not walk above it)"
        )
    if glob_path == base:
        raise InvalidValueError(f"save({glob_str!r}): the glob is the base path itself; name "
                                "files under it (e.g. base_path + '/*')")
    if glob_path.parts[len(base.parts)] == "*":
        raise InvalidValueError(
            f"save({glob_str!r}): the glob may not start with '*' relative to the base path "
            f"{base} (as in wandb); name a folder or a pattern like '*.txt'"
        )
    return glob_path, base


def file_sync(run: RunHandle) -> FileSync:
    """A live run's FileSync, polling as `Settings(file_poll_interval=...)` says."""
    assert run.paths is not None
    interval = run.settings.file_poll_interval
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
        raise InvalidValueError(
            f"Settings(file_poll_interval=...) must be a number of seconds > 0, got "
            f"{type(interval).__name__} {interval!r}"
        )
    return FileSync(run.paths.files_dir, float(interval))


def restore(run: RunHandle | None, name: Any, run_path: str | None = None, replace: bool = False,
            root: str | os.PathLike[str] | None = None) -> IO[str] | None:
    """wandb's `restore`: a run's saved file, open for reading, fetched into `root` (default
    the active run's dir, else the working directory) unless it is there already."""
    from runlake.query.files import file as find_file  # the read side: never on init()'s path

    if run is not None and run.disabled:
        return None  # mode="disabled": a no-op
    rel = validate_file_name(name)
    if run_path is None:
        if run is None:
            raise RunFileError("restore() needs run_path='entity/project/run_id' when no run "
                               "is active (call runlake.init() first or name the run)")
        paths = run.paths
    else:
        store = run.paths.root if run is not None and run.paths is not None else resolve_root()
        paths = _run_paths(store, run_path)
    assert paths is not None
    if root is None:  # the run's dir, else the working folder
        root = run.paths.files_dir if run is not None and run.paths is not None else "."
    dest_root = Path(root)
    local = file_path(dest_root, rel)
    if local.exists() and not replace:
        return open(local, encoding="utf-8")
    if not paths.meta_file.exists():
        raise RunFileError(f"restore(): run {run_path} not found in store {paths.root}")
    found = find_file(paths, rel)
    if found is None:
        return None
    return found.download(root=dest_root, replace=True)


def _run_paths(store: Path, run_path: Any) -> RunPaths:
    if not isinstance(run_path, str):
        raise InvalidValueError(
            f"restore(run_path=...) takes 'entity/project/run_id', got {type(run_path).__name__}"
        )
    parts = [p for p in run_path.split("/") if p]
    if len(parts) == 2:
        parts = [default_entity(), *parts]
    if len(parts) != 3:
        raise RunFileError(f"restore(): run_path {run_path!r} must be 'entity/project/run_id' "
                           "or 'project/run_id'")
    return RunPaths.of(store, *parts)  # validates each part

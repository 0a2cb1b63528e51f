"""A run's own files: `<root>/runs/entity=<e>/project=<p>/run_id=<id>/files/` (docs/FORMAT.md,
"Run files"). The writer side (`run.save`, `run.restore`) and the read side (the public
`Run.files()`) both go through here, so the rules are in one place:

- a file's *name* is its path relative to the files folder, `/`-separated, never absolute,
  never with `..` or `.` parts, NUL or a backslash; anything else is refused before a path
  is built, and the target's folder, resolved, must still be inside the files folder (a
  symlink placed in it cannot redirect a write);
- a file appears whole: it is written under a hidden `.tmp-*` name in its folder and renamed
  into place, so readers never see a partial copy (and skip `.tmp-*` names);
- only regular files are listed (a symlink someone put there is not the run's file).
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from runlake.errors import InvalidNameError
from . import atomic
from .atomic import replacing

TMP_PREFIX = atomic.TMP_PREFIX


def validate_file_name(name: object) -> str:
    """The normalised name of a run file if it is safe inside the files folder.

    >>> validate_file_name("ckpt/./model.pt")
    'ckpt/model.pt'
    """
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name:
        raise InvalidNameError(
            f"a run file name must be a non-empty string, got {type(name).__name__} {name!r}"
        )
    if "\0" in name or "\\" in name:
        raise InvalidNameError(f"run file name {name!r} must not contain NUL or '\\'")
    pure = PurePosixPath(name)
    if pure.is_absolute():
        raise InvalidNameError(
            f"run file name {name!r} must be relative to the run's files folder, not absolute"
        )
    parts = [p for p in pure.parts if p != "."]
    if not parts or ".." in parts:
        raise InvalidNameError(
            f"run file name {name!r} must not contain '..': name a file inside the run's folder"
        )
    if any(p.startswith(TMP_PREFIX) for p in parts):
        raise InvalidNameError(f"run file name {name!r}: names starting {TMP_PREFIX!r} are reserved")
    return "/".join(parts)


def file_path(files_dir: Path, name: str) -> Path:
    """`files_dir / name`, its folder checked to stay inside `files_dir` once symlinks are
    resolved. (The name itself may be a symlink: a copy renames over it rather than follow it,
    and a reader does not take it for a file.)"""
    target = Path(files_dir, *validate_file_name(name).split("/"))
    inside(files_dir, target.parent)
    return target


def inside(folder: Path, target: Path) -> None:
    """Raise InvalidNameError unless `target` (resolved) is under `folder` (resolved)."""
    base = Path(folder).resolve()
    if not Path(target).resolve().is_relative_to(base):
        raise InvalidNameError(f"{target} resolves outside {folder}: refused")


def copy_into(src: Path, target: Path, folder: Path) -> None:
    """Copy `src` to `target` (inside `folder`) so that `target` only ever holds a whole file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    inside(folder, target.parent)
    copy_whole(src, target)


def copy_whole(src: Path, target: Path) -> None:
    """Copy `src` to `target` by way of a temporary name: `target` is never a partial file."""
    with replacing(target) as tmp:
        shutil.copyfile(src, tmp)


@dataclass(frozen=True)
class FileInfo:
    name: str  # relative, '/'-separated
    path: Path
    size: int
    mtime: float


def list_files(files_dir: Path) -> list[FileInfo]:
    """Every regular file under the folder, sorted by name (none if it does not exist)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(files_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(TMP_PREFIX)]
        for fname in filenames:
            if fname.startswith(TMP_PREFIX):
                continue
            path = Path(dirpath, fname)
            try:
                st = path.lstat()
            except FileNotFoundError:  # deleted while listing
                continue
            if stat.S_ISREG(st.st_mode):
                name = path.relative_to(files_dir).as_posix()
                out.append(FileInfo(name, path, st.st_size, st.st_mtime))
    return sorted(out, key=lambda f: f.name)

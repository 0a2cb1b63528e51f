"""Write-then-rename: a file appears under its name whole, or not at all.

Every file the format says "appears atomically" (segments, run.json, artifact objects and
manifests' temporaries, media and run files, caches, exports) is written under a hidden
`.tmp-*` name in its own folder (a rename is atomic only within one filesystem) and renamed
over the target with os.replace. Readers skip `.tmp-*` names; recovery and `gc` delete the
ones a dead writer left.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".tmp-"


def tmp_name(target: Path, folder: Path | None = None) -> Path:
    """A fresh hidden name beside `target` (or in `folder`, on the same filesystem)."""
    return (folder or target.parent) / f"{TMP_PREFIX}{uuid.uuid4().hex}-{target.name}"


@contextmanager
def replacing(target: Path, *, fsync: bool = False, fsync_dir: bool | None = None,
              tmp: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on a clean exit it replaces `target`.

    `fsync` flushes the file's bytes before the rename, and (unless `fsync_dir` says
    otherwise) the folder after it, so the new name survives a machine crash too. However
    the body exits, no temporary file is left behind.
    """
    target = Path(target)
    tmp = tmp_name(target) if tmp is None else tmp
    try:
        yield tmp
        publish(tmp, target, fsync=fsync, fsync_dir=fsync_dir)
    finally:
        tmp.unlink(missing_ok=True)


def publish(tmp: Path, target: Path, *, fsync: bool = False, fsync_dir: bool | None = None) -> None:
    """Rename a whole temporary file over `target` (for writers that stream into `tmp`
    across calls, such as an open segment); `fsync`, `fsync_dir` as in `replacing`."""
    if fsync:
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    os.replace(tmp, target)
    if fsync if fsync_dir is None else fsync_dir:
        sync_dir(Path(target).parent)


def write_bytes(target: Path, data: bytes, *, fsync: bool = False) -> None:
    """`target` holds `data`, written whole by temporary file and rename."""
    with replacing(target, fsync=fsync) as tmp:
        tmp.write_bytes(data)


def sync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new file) survive a machine crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

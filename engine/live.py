"""The live-runs registry: which runs of a project may have a dead writer to recover.

`runs/entity=<e>/project=<p>/.live/<run_id>` is an empty file that exists while a process
owns the run: lock.acquire makes it right after taking the run's lock (so before run.json or
a WAL file can exist) and RunLock.release removes it just before dropping the lock (after
finish() has written everything). A writer killed at any point leaves its entry behind, so
the next init() of the project lists this folder, not every run folder: its cost follows the
runs live or killed, not the runs the project holds (docs/FORMAT.md, "Live runs").

An entry a dead owner left is removed only by recovery.recover_project, once nothing is
left to recover: the next owner's release keeps it (a refused resume must not hide a
killed run's WAL), so a run resumed after a kill leaves an entry the next init() clears.

Entries are best effort (a store this process may only read gets none). Readers and
`runlake recover` keep listing every run, so a run killed under a runlake that kept no
registry is still found; init() scans such a project once, then marks it `.live/.scanned`.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .layout import RunPaths, is_valid_name

SCANNED = ".scanned"  # a project whose runs were all listed once since it has a registry


def folder(root: Path, entity: str, project: str) -> Path:
    return root.joinpath("runs", f"entity={entity}", f"project={project}", ".live")


def entry(paths: RunPaths) -> Path:
    return folder(paths.root, paths.entity, paths.project) / paths.run_id


def add(paths: RunPaths) -> bool:
    """Register a run its caller has just taken the lock of; whether this made the entry."""
    try:
        path = entry(paths)
        path.parent.mkdir(exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
    except FileExistsError:
        return False  # left by an owner that died: its recoverer removes it
    except OSError:
        return False  # a read-only store, or a full disk: the run is still found by a full scan
    return True


def remove(paths: RunPaths) -> None:
    """Drop a run's entry; its caller still holds the run's lock."""
    try:
        entry(paths).unlink(missing_ok=True)
    except OSError:
        pass


def listed(root: Path, entity: str, project: str) -> list[RunPaths]:
    """The runs registered in a project, by id (entries runlake could not have made skipped)."""
    try:
        names = sorted(os.listdir(folder(root, entity, project)))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [RunPaths(root, entity, project, n) for n in names if is_valid_name(n)]


def scanned(root: Path, entity: str, project: str) -> bool:
    return (folder(root, entity, project) / SCANNED).exists()


def mark_scanned(root: Path, entity: str, project: str) -> None:
    try:
        path = folder(root, entity, project) / SCANNED
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        pass


COUNT = ".count"  # how many runs init() has numbered in the project, for default run names


def next_number(root: Path, entity: str, project: str, run_id: str) -> int:
    """The number of a new run's default name (wandb's `<adjective>-<noun>-<n>`), one past the
    runs made before, without listing the project: a counter in `.live/.count`, taken under
    an exclusive flock so that two inits never get one number. A project without a counter
    (older stores) starts it from one listing of its run folders other than `run_id`'s (the
    run being named, already claimed). Best effort: a store this process cannot write gets
    the listing's count."""
    project_dir = folder(root, entity, project).parent
    path = project_dir / ".live" / COUNT
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return _listed_count(project_dir, run_id) + 1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        have = int(text) if text.isdigit() else _listed_count(project_dir, run_id)
        number = have + 1
        data = str(number).encode("ascii")
        os.pwrite(fd, data.ljust(20), 0)  # fixed width: a shorter number never leaves digits
        return number
    except OSError:
        return _listed_count(project_dir, run_id) + 1
    finally:
        os.close(fd)  # drops the flock


def _listed_count(project_dir: Path, run_id: str) -> int:
    mine = f"run_id={run_id}"
    try:
        return sum(1 for name in os.listdir(project_dir) if name.startswith("run_id=") and name != mine)
    except OSError:
        return 0

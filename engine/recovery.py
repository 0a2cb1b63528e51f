"""Recovery of runs whose writer died: compact what they left, and record that they crashed.

A writer killed mid-run (kill -9, the OOM killer, a power cut) leaves rows in WAL files,
maybe a hidden `.tmp-*` file it was writing, and a run.json that still says "running".
Nothing durable is lost (docs/DESIGN.md, "Crash recovery"); recovery leaves what `finish()`
would have left:

- every WAL file whose segment does not exist is compacted into it (its valid frames: a torn
  last frame is cut off), and deleted only after the segment is in place; a WAL file whose
  segment exists is redundant and deleted; orphaned `.tmp-*` files are removed; segments of
  a column that was widened later in the run are rewritten to the run's final type; the
  system-metrics WAL files are compacted the same way (engine/system.py);
- state "running" becomes "crashed" (`exit_code` and `finished_at` stay null, `heartbeat_at`
  keeps the last sign of life). "preempting" stays: the run was told to stop and is meant to
  be resumed, which is what a wandb sweep reads from a preempted run; "crashed" would hide it.

Only a dead owner's run is touched. Recovery takes the run's lock (engine/lock.py) and gives
up if a live process holds it, so it is safe beside a live writer and beside another
recoverer: one of two concurrent recoverers gets the lock, the other finds it taken, or
finds nothing left to do. Every step is idempotent, so a recoverer killed midway is finished
by the next one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from . import live, lock, segment, system
from .convert import conform
from runlake.errors import InvalidNameError, RunInUseError
from .layout import RunPaths, seq_of
from .meta import LIVE_STATES, RunMeta, RunState, read_versioned
from .times import parse_time
from .atomic import TMP_PREFIX
from .union import Union
from .wal import read_frames
from .writer import compact_wal

# A run logged on another host (whose lock this host may not see, e.g. over NFS), or one
# written before runs had locks, counts as dead once its heartbeat (written every
# `Settings.heartbeat_interval`, 10 s) is older than this. Generous, as wandb's ~5 minutes:
# the heartbeat is the other host's clock, and clocks drift. Readers do not see a writer's
# Settings, so the reader's environment sets it: $RUNLAKE_HEARTBEAT_STALE (seconds).
STALE_AFTER = 300.0
STALE_ENV = "RUNLAKE_HEARTBEAT_STALE"


def stale_after() -> float:
    """Seconds without a heartbeat after which another host's run counts as dead."""
    text = os.environ.get(STALE_ENV) or os.environ.get("WANDB_HEARTBEAT_STALE")
    if not text:
        return STALE_AFTER
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"${STALE_ENV} must be a positive number of seconds, got {text!r}")
    return value

_TMP = TMP_PREFIX


def owner_dead(paths: RunPaths, host: str | None, heartbeat: float | None,
               now: float | None = None) -> bool:
    """Whether a run whose run.json says it is live has no live writer.

    On the run's own host its lock answers: the kernel drops it when the owner dies, however
    it dies. A run of another host, or one without a lock file, is dead once its heartbeat
    (Unix seconds) is older than `stale_after()`.
    """
    try:
        if lock.is_live(paths):
            return False
        if host == socket.gethostname() and paths.lock_file.exists():
            return True
    except OSError:
        pass  # the lock cannot be tested here (permissions): the heartbeat decides
    return _stale(heartbeat, now)


def recover_run(paths: RunPaths) -> bool:
    """Recover one run if its owner is dead; whether anything changed.

    False when the run is live (its lock is held here, or its heartbeat is fresh), has nothing
    to recover, is not a run (no run.json yet: a run being created takes its lock first and
    writes run.json second), or another recoverer holds it right now.
    """
    try:
        meta = read_versioned(paths.meta_file)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return False  # not a run, or a newer runlake's (FormatVersionError): never touched
    if not _needs_recovery(paths, meta) or not _owner_gone(paths, meta):
        return False
    try:
        owner = lock.acquire(paths)
    except RunInUseError:
        return False
    try:
        return recover_owned(paths)
    finally:
        owner.release()


def recover_store(root: str | Path, *, entity: str | None = None,
                  project: str | None = None) -> list[RunPaths]:
    """Recover every run of a store (or of one entity, or project) whose owner is dead; the
    runs that were recovered."""
    return [paths for paths in list_runs(Path(root), entity, project) if recover_run(paths)]


def recover_project(root: Path, entity: str, project: str,
                    guard: Any = contextlib.nullcontext()) -> list[RunPaths]:
    """What a new writer of a project does: recover its runs whose writer died, found in the
    live-runs registry (engine/live.py), so the cost follows the runs live or killed, not the
    runs the project holds. A project without a registry scan yet (written by a runlake that
    kept none) has its runs with WAL files listed once. `guard` is held around each run's
    recovery (the session's lock, for an init() resuming that run in this process)."""
    full = not live.scanned(root, entity, project)
    found = [p for p in list_runs(root, entity, project) if has_wal(p)] if full else []
    found += [p for p in live.listed(root, entity, project) if p not in found]
    recovered = []
    for paths in found:
        with guard:
            try:
                if lock.is_live(paths):
                    continue
                if recover_run(paths):
                    recovered.append(paths)
                _clear_entry(paths)
            except (OSError, RunInUseError):
                continue
    if full:
        live.mark_scanned(root, entity, project)
    return recovered


def _clear_entry(paths: RunPaths) -> None:
    """Drop the registry entry of a run left with nothing to recover (recovered now, or its
    writer was killed before run.json or after finish() wrote it), under the run's lock.
    Another host's run with a fresh heartbeat keeps its entry."""
    if not live.entry(paths).exists():
        return
    if not paths.run_dir.is_dir():  # deleted by hand
        live.remove(paths)
        return
    try:
        meta = read_versioned(paths.meta_file)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        meta = None
    if meta is not None and meta.get("state") in LIVE_STATES and not _owner_gone(paths, meta):
        return
    try:
        owner = lock.acquire(paths)
    except RunInUseError:
        return
    try:
        live.remove(paths)
    finally:
        owner.release()


DIED_UNRECORDED = ("the process ended without finishing the run and without recording why: "
                   "killed, out of memory, or its writes failed (a full or read-only disk); "
                   "its stderr tells which")


def recover_owned(paths: RunPaths) -> bool:
    """`recover_run`'s work, for a caller that holds the run's lock. A writer resuming the run
    wants `compact_wals` alone: this also turns the run.json state "running" into "crashed"."""
    try:
        meta = RunMeta.load(paths.meta_file)  # again, under the lock: it may have finished since
    except FileNotFoundError:
        meta = None
    changed = compact_wals(paths) > 0
    changed = system.compact_wals(paths) > 0 or changed
    if meta is not None and meta.get("state") == RunState.RUNNING:
        # A process that died without a traceback (killed, out of memory, or stopped by a
        # full or read-only disk, where run.json could not take its error) left none.
        meta.update(state=RunState.CRASHED, error=meta.get("error") or DIED_UNRECORDED)
        changed = True
    return changed


def compact_wals(paths: RunPaths) -> int:
    """Compact every WAL file of a run into its segment, then delete it; the files handled.

    The caller owns the run. As in the writer, a segment is in place (fsynced, here: this
    runs once per crash) before its WAL file is deleted, so a crash in between leaves a
    redundant WAL file, never a lost row; and a WAL file whose segment exists is not read.
    """
    for folder in (paths.history_dir, paths.run_dir):  # a dead writer's unpublished files
        for tmp in _listdir(folder):
            if tmp.name.startswith(_TMP) and tmp.is_file():
                tmp.unlink(missing_ok=True)
    wals = sorted((p for p in _listdir(paths.wal_dir) if p.suffix == ".arrows"), key=seq_of)
    if not wals:
        return 0
    segments = segment.list_segments(paths.history_dir)
    pending = [w for w in wals if not paths.segment_file(seq_of(w)).exists()]
    schemas = [pq.read_schema(p) for p in segments]
    schemas += [f.schema for w in pending for f in read_frames(w)]
    schema = Union.of(schemas).run_schema()  # each column the widest it took
    for wal in wals:
        if wal in pending:
            compact_wal(wal, paths.segment_file(seq_of(wal)), schema, fsync=True)
        wal.unlink()
    # As finish() does: every segment gets the run's final column types.
    for path in segments:
        table = pq.read_table(path)
        fixed = conform(table, schema)
        if fixed.schema != table.schema:
            segment.write_segment(fixed, path, fsync=True)
    return len(wals)


def has_wal(paths: RunPaths) -> bool:
    """Whether the run has WAL files (cheap: one listing, no run.json read)."""
    return any(p.suffix == ".arrows" for p in _listdir(paths.wal_dir))


def _needs_recovery(paths: RunPaths, meta: dict[str, Any]) -> bool:
    return meta.get("state") in LIVE_STATES or has_wal(paths)


def _owner_gone(paths: RunPaths, meta: dict[str, Any]) -> bool:
    """Whether the run may be taken over, as far as run.json tells; the lock decides the rest."""
    if meta.get("host") == socket.gethostname() and paths.lock_file.exists():
        return True  # acquiring the lock tells a live owner from a dead one
    if meta.get("state") not in LIVE_STATES:
        return True  # finished (with WAL files left by a failed write at finish)
    return _stale(parse_time(meta.get("heartbeat_at")))


def _stale(heartbeat: float | None, now: float | None = None) -> bool:
    """Whether a heartbeat (Unix seconds) is missing or older than `stale_after()`."""
    now = time.time() if now is None else now
    return heartbeat is None or now - heartbeat > stale_after()


def list_runs(root: Path, entity: str | None = None, project: str | None = None) -> list[RunPaths]:
    """The run folders under the root (of one entity or project if given), by name."""
    found = []
    for e in _listdir(root / "runs", "entity", entity):
        for p in _listdir(e, "project", project):
            for r in _listdir(p, "run_id"):
                names = (e.name, p.name, r.name)
                try:
                    found.append(RunPaths.of(root, *(n.split("=", 1)[1] for n in names)))
                except InvalidNameError:
                    continue  # a folder made by hand: runlake never wrote it
    return found


def _listdir(folder: Path, key: str | None = None, value: str | None = None) -> list[Path]:
    """A folder's entries; with `key`, the `key=...` ones (only `key=value` if given)."""
    try:
        found = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    if key is not None:
        prefix = f"{key}={'' if value is None else value}"
        found = [p for p in found if p.name == prefix or value is None and p.name.startswith(prefix)]
    return found

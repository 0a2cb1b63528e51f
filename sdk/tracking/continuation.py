"""`init(resume=...)`, `init(resume_from=...)`, `init(fork_from=...)`: which run to continue,
and the state a continued Run starts from (docs/DESIGN.md, "Resume, rewind and fork").

wandb's meanings:

- `resume="allow"`: continue run `id` if it exists, else start it.
- `resume="must"`: continue run `id`; it must exist.
- `resume="never"`: start run `id`; it must not exist.
- `resume="auto"` (or `True`): as "allow", with the id of the run that an earlier
  `init(resume="auto")` started on this machine from this working directory (in this
  project) and that did not finish with exit code 0, else a new run. An `id` given wins.
- `resume_from="<id>?_step=<N>"`: rewind run `id` to step N (its later rows are set aside in
  `runs/.../rewound/<stamp>/`, not deleted) and continue it at N+1.
- `fork_from="<id>?_step=<N>"`: a new run in the same project whose history starts as a copy
  of run `id`'s up to step N; it continues at N+1 and names its parent in run.json `fork_from`.

A continued run takes the run's lock first, so a run live in another process is refused with
RunInUseError, and recovers what a crashed writer left (recovery.recover_owned) before
anything reads the history.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import time
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runlake.engine import lock
from runlake.errors import (
    InvalidNameError,
    ResumeError,
    RunExistsError,
    RunInUseError,
    RunNotFoundError,
    UsageError,
)
from runlake.engine.layout import RunPaths, auto_resume_file, validate_name
from runlake.engine.meta import (
    LIVE_STATES, RunState, encode, read_json, read_versioned, write_json,
)
from runlake.engine.recovery import owner_dead, recover_owned
from runlake.engine.resume import copy_prefix, last_row, rewind, run_schema, summary_state
from runlake.engine.times import iso as _iso, parse_time
from runlake.engine.writer import next_seq

from runlake.tracking.continued import Continued
from runlake.tracking.run import Run
from runlake.tracking.metric import MetricRegistry
from runlake.tracking.config import Config
from runlake.tracking.summary import Summary
from runlake.tracking.settings import Settings

MODES = ("allow", "must", "never", "auto")
_AGGREGATING = ("min", "max", "mean", "best", "first")


@dataclass(frozen=True)
class Request:
    """What init() was asked: a resume mode, "rewind", "fork", or None for a new run."""

    mode: str | None = None
    run_id: str | None = None  # the run named by resume_from / fork_from
    step: int | None = None


def request(resume: Any, resume_from: Any, fork_from: Any, run_id: str | None) -> Request:
    """Check init()'s arguments before anything touches the disk."""
    given = [name for name, value in (("resume", resume), ("resume_from", resume_from),
                                      ("fork_from", fork_from)) if value not in (None, False)]
    if len(given) > 1:
        raise UsageError(f"init() takes one of resume, resume_from and fork_from; got "
                         f"{' and '.join(given)}")
    if resume_from not in (None, False):
        rid, step = parse_step_spec("resume_from", resume_from)
        if run_id is not None and run_id != rid:
            raise UsageError(f"init(id={run_id!r}, resume_from={resume_from!r}) name two runs; "
                             "resume_from rewinds the run it names: leave out id")
        return Request("rewind", rid, step)
    if fork_from not in (None, False):
        pid, step = parse_step_spec("fork_from", fork_from)
        return Request("fork", pid, step)
    if resume in (None, False):
        return Request()
    if resume is True:
        return Request("auto")
    if not isinstance(resume, str) or resume not in MODES:
        raise ResumeError(f"init(resume={resume!r}) is not a resume mode: use one of "
                          f"{', '.join(repr(m) for m in MODES)} or True (= 'auto')")
    if resume == "must" and run_id is None:
        raise UsageError("init(resume='must') needs the id of the run to resume: "
                         "init(id='<run id>', resume='must')")
    return Request(resume)


def parse_step_spec(arg: str, spec: Any) -> tuple[str, int]:
    """`"<run_id>?_step=<N>"` -> (run_id, N), strictly; anything else is a ResumeError."""
    form = f'{arg} must look like "<run_id>?_step=<N>", e.g. "1a2b3c4d?_step=100"'
    if not isinstance(spec, str):
        raise ResumeError(f"{form}; got {type(spec).__name__} {spec!r}")
    run_id, sep, query = spec.partition("?")
    key, eq, value = query.partition("=")
    if not (sep and run_id and key == "_step" and eq):
        raise ResumeError(f"{form}; got {spec!r}")
    if not re.fullmatch(r"-?[0-9]+", value):
        raise ResumeError(f"{form} with N a whole number; got {spec!r}")
    step = int(value)
    if step < 0:
        raise ResumeError(f"{arg}={spec!r}: the step must be 0 or more")
    return validate_name("run id", run_id), step


# -- which run -------------------------------------------------------------------------------


def run_id_for(req: Request, s: Settings, root: Path) -> str | None:
    """The id init() works on, if the request decides it (None: a new random id)."""
    if req.mode == "rewind":
        return req.run_id
    if req.mode == "auto":
        left = _auto_id(s, root)
        if s.run_id is None:
            return left
        if left is not None and left != s.run_id:
            warnings.warn(f"runlake: resume='auto' found unfinished run {left} from this "
                          f"directory, but id={s.run_id!r} was given: using {s.run_id}",
                          UserWarning, stacklevel=4)
    return s.run_id


def continues(req: Request, paths: RunPaths) -> bool:
    """Whether init() continues the existing run at `paths` rather than starting one."""
    if req.mode in ("must", "rewind"):
        return True  # a missing run is an error there, raised by `resume_run`
    return req.mode in ("allow", "auto") and paths.meta_file.exists()


def claim_new(paths: RunPaths, req: Request) -> None:
    """Create a new run's folder, or say why not: live elsewhere, or already there. A folder
    left by a process killed inside init() (no run.json yet) is taken over."""
    where = f"{paths.entity}/{paths.project}/{paths.run_id}"
    if paths.run_dir.exists() and lock.is_live(paths):
        # Before "exists": a run being written is the more useful thing to be told.
        raise RunInUseError(f"run {where} is being written by another process; two processes "
                            "never write one run: use another id, or wait for it to finish")
    try:
        paths.run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        if paths.meta_file.exists() or not _take_over_half_made(paths):
            hint = ("resume='never' refuses an existing run; " if req.mode == "never" else "")
            raise RunExistsError(
                f"run {where} already exists in {paths.root}; {hint}use a new id, or "
                "init(id=..., resume='allow') to continue it"
            ) from None


def _take_over_half_made(paths: RunPaths) -> bool:
    """Clear a run folder whose maker died before writing run.json; False if it has one now.

    run.json is written before the writer starts, so such a folder holds no row the user
    logged: at most what a killed fork_from had copied of its parent, which stays intact.
    Under the run's lock, so two processes never both take it (RunInUseError for the other).
    """
    owner = lock.acquire(paths)
    try:
        if paths.meta_file.exists():  # made meanwhile by the one that held the lock
            return False
        for child in paths.run_dir.iterdir():
            if child.name == paths.lock_file.name:
                continue  # the lock we hold
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        shutil.rmtree(paths.history_dir, ignore_errors=True)
        shutil.rmtree(paths.system_dir, ignore_errors=True)
        return True
    finally:
        owner.release()


# -- resume and rewind ---------------------------------------------------------------------


def resume_run(s: Settings, paths: RunPaths, config: Config, allow_val_change: bool,
               req: Request, on_finish: Any) -> Run:
    """Continue the run at `paths` (resume modes, and resume_from's rewind)."""
    where = f"{paths.entity}/{paths.project}/{paths.run_id}"
    if not paths.meta_file.is_file():
        raise RunNotFoundError(
            f"run {where} does not exist in {paths.root}, so it can't be "
            f"{'rewound' if req.mode == 'rewind' else 'resumed'}: check the id, project and "
            "dir" + ("" if req.mode == "rewind" else ", or use resume='allow' to start it")
        )
    seen = read_versioned(paths.meta_file)
    host = seen.get("host")
    if (seen.get("state") in LIVE_STATES and host != socket.gethostname()
            and not owner_dead(paths, host, parse_time(seen.get("heartbeat_at")))):
        # Live on another host, whose lock this one can't see: its heartbeat is fresh.
        raise RunInUseError(f"run {where} is being written on host {seen.get('host')!r} (last "
                            f"heartbeat {seen.get('heartbeat_at')}); wait for it to finish")
    owner = lock.acquire(paths)  # RunInUseError if a live process here writes it
    try:
        if req.mode == "rewind":  # a step the run never reached changes nothing
            _check_step("resume_from", req, where, last_row(paths))
        recover_owned(paths)  # a crashed writer's WAL becomes segments before we read them
        stored = read_versioned(paths.meta_file)
        previous = last_row(paths)
        step = 0 if previous is None else previous[0] + 1
        seq = next_seq(paths)
        if req.mode == "rewind":
            assert req.step is not None
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            rewind(paths, req.step, stamp, compact=s.compact_parquet, fsync=s.fsync)
            step = req.step + 1  # `seq` stays past the set-aside segments: no name is reused
        metrics = _metrics(stored.get("metrics"))
        state = summary_state(paths, _aggregates(metrics))
        cont = Continued(
            owner, step, seq, time.time() - _runtime_so_far(stored, previous),
            run_schema(paths), True, metrics, state.last, state.aggregates,
        )
        if req.mode != "rewind":  # a rewind's summary is its history's up to the step only
            _keep_stored_summary(cont, stored)
        cont.meta = {
            "created_at": stored.get("created_at"), "sweep_id": stored.get("sweep_id"),
            "fork_from": stored.get("fork_from"), "metrics": metrics.to_json(),
            "heartbeat_at": _iso(time.time()), "summary": _preview(cont),
        }
        s = s.replace(**{f: _stored(s, stored, f) for f in ("notes", "group", "job_type")},
                      tags=s.tags if s.tags is not None else tuple(stored.get("tags") or ()))
        return Run(s, run_id=paths.run_id, name=s.name or stored.get("name") or paths.run_id,
                   config=_config(stored.get("config"), config, allow_val_change),
                   paths=paths, on_finish=on_finish, continued=cont)
    except BaseException:
        owner.release()
        raise


def _stored(s: Settings, stored: dict[str, Any], name: str) -> Any:
    value = getattr(s, name)
    return stored.get(name) if value is None else value


def _check_step(arg: str, req: Request, where: str, previous: tuple[int, float] | None) -> None:
    if previous is None:
        raise ResumeError(f"{arg}: run {where} has no logged steps, so there is no step "
                          f"{req.step} to start from")
    if req.step is not None and req.step > previous[0]:
        raise ResumeError(f"{arg}: run {where} ends at step {previous[0]}; step {req.step} is "
                          f"beyond it: pass a step from 0 to {previous[0]}")


def _runtime_so_far(stored: dict[str, Any], previous: tuple[int, float] | None) -> float:
    """The run's runtime when it stopped: its last row's `_runtime`, or the time from
    `start_time` to its finish (or last heartbeat, if it crashed), whichever is later."""
    runtime = previous[1] if previous is not None else 0.0
    start = stored.get("start_time")
    end = parse_time(stored.get("finished_at") or stored.get("heartbeat_at"))
    if isinstance(start, (int, float)) and end is not None:
        runtime = max(runtime, end - start)
    return max(runtime, 0.0)


def _keep_stored_summary(cont: Continued, stored: dict[str, Any]) -> None:
    """Bring back the summary the run showed, over what its history says.

    Per key: a value the summary shows as is (no aggregation) comes back as the last value,
    so logging the key replaces it; a key whose metric aggregates keeps the aggregates read
    from the history, unless its stored value is not an aggregate dict (set by hand: it stays
    set). A run that finished wrote its whole summary, so keys it lacks were deleted by hand.
    """
    summary = stored.get("summary") or {}
    for key, value in summary.items():
        if _dict_shaped(cont.metrics, key):
            if not isinstance(value, dict):
                cont.user[key] = value
        else:
            cont.last[key] = value
    if stored.get("state") in (RunState.FINISHED, RunState.FAILED, RunState.DETACHED):  # wrote the whole summary
        cont.deleted = [k for k in cont.last if k not in summary and not _hidden(cont.metrics, k)]


def _dict_shaped(metrics: MetricRegistry, key: str) -> bool:
    metric = metrics.resolve(key) if metrics else None
    ops = metric.ops if metric is not None else ()
    return bool(ops) and ops != ("copy",) and "none" not in ops


def _hidden(metrics: MetricRegistry, key: str) -> bool:
    metric = metrics.resolve(key) if metrics else None
    return metric is not None and "none" in metric.ops


def _metrics(stored: Any) -> MetricRegistry:
    """The run's define_metric definitions, from run.json `metrics`."""
    registry = MetricRegistry()
    for m in stored or ():
        ops = ",".join(m.get("summary") or ()) or None
        registry.define(m["name"], m.get("step_metric"), m.get("step_sync"), m.get("hidden"),
                        ops, m.get("goal"), overwrite=True)
    return registry


def _aggregates(metrics: MetricRegistry) -> Any:
    def wants(key: str) -> bool:
        metric = metrics.resolve(key) if metrics else None
        return metric is not None and any(op in _AGGREGATING for op in metric.ops)

    return wants


def _config(stored: Any, given: Config, allow_val_change: bool, *, replace: bool = False) -> Config:
    """The stored config, updated by init(config=...) under config.update's rules: changing a
    stored value needs allow_val_change=True, as in wandb (a fork may always change them)."""
    merged = Config(stored or {})
    new = {k: v for k, v in given.items() if k not in merged or _json(merged[k]) != _json(v)}
    merged.update(new, allow_val_change=allow_val_change or replace)
    return merged


def _json(value: Any) -> str:
    return json.dumps(encode(value), sort_keys=True)  # NaN equals NaN here, unlike ==


def _preview(cont: Continued) -> dict[str, Any]:
    """The summary run.json shows from the start (the writer rewrites it as rows come)."""
    summary = Summary(cont.metrics)
    summary.restore(cont.last, cont.aggregates, cont.user, cont.deleted)
    return summary.as_dict()


# -- fork ---------------------------------------------------------------------------------------


def fork_run(s: Settings, paths: RunPaths, name: Callable[[], str], config: Config,
             allow_val_change: bool, req: Request, on_finish: Any) -> Run:
    """A new run at `paths` whose history starts with its parent's up to `req.step`."""
    assert req.run_id is not None and req.step is not None
    parent = RunPaths.of(paths.root, paths.entity, paths.project, req.run_id)
    where = f"{parent.entity}/{parent.project}/{parent.run_id}"
    if not parent.meta_file.is_file():
        raise RunNotFoundError(f"fork_from: run {where} does not exist in {paths.root}: check "
                               "the id, and that project and dir are the parent's")
    stored = read_versioned(parent.meta_file)
    _check_step("fork_from", req, where, last_row(parent))
    claim_new(paths, req)
    try:
        owner = lock.acquire(paths)
        try:
            copy_prefix(parent, paths, req.step, compact=s.compact_parquet, fsync=s.fsync)
            copied = last_row(paths)
            metrics = _metrics(stored.get("metrics"))
            state = summary_state(paths, _aggregates(metrics))
            cont = Continued(
                # _runtime goes on from the fork point's, so the copied curve continues.
                owner, req.step + 1, next_seq(paths),
                time.time() - (copied[1] if copied is not None else 0.0),
                run_schema(paths), False, metrics, state.last, state.aggregates,
            )
            cont.meta = {
                "metrics": metrics.to_json(), "summary": _preview(cont),
                "fork_from": {"entity": parent.entity, "project": parent.project,
                              "run_id": parent.run_id, "step": req.step},
            }
            return Run(s, run_id=paths.run_id, name=name(),
                       config=_config(stored.get("config"), config, allow_val_change,
                                      replace=True),
                       paths=paths, on_finish=on_finish, continued=cont)
        except BaseException:
            owner.release()
            raise
    except BaseException:
        # Nothing of a half-made fork stays behind; the parent was only read.
        shutil.rmtree(paths.history_dir, ignore_errors=True)
        shutil.rmtree(paths.run_dir, ignore_errors=True)
        raise


# -- resume="auto" -----------------------------------------------------------------------------

_auto_files: weakref.WeakKeyDictionary[Run, Path] = weakref.WeakKeyDictionary()


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:  # the working directory was deleted
        return ""


def _auto_file(s: Settings, root: Path) -> Path:
    # wandb keys its resume file by directory (./wandb/wandb-resume.json); a store may be
    # shared by many directories and hosts, so the key is this host and working directory.
    key = hashlib.sha256(f"{socket.gethostname()}\0{_cwd()}".encode()).hexdigest()[:16]
    return auto_resume_file(root, s.entity or "", s.project or "", key)


def _auto_id(s: Settings, root: Path) -> str | None:
    try:
        run_id = read_json(_auto_file(s, root)).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    try:
        return validate_name("run id", run_id)
    except InvalidNameError:  # a marker edited by hand: start a new run rather than fail
        return None


def remember_auto(run: Run, req: Request, root: Path) -> None:
    """After init(resume="auto"): mark this run as the one to resume until it finishes cleanly."""
    if req.mode != "auto" or run.disabled:
        return
    path = _auto_file(run.settings, root)
    write_json(path, {"run_id": run.id, "host": socket.gethostname(), "cwd": _cwd()})
    _auto_files[run] = path


def forget_auto(run: Run, exit_code: Any) -> None:
    """At finish: a run that exits with 0 is no longer one to auto-resume (as in wandb)."""
    path = _auto_files.pop(run, None)
    if path is None or exit_code != 0:
        return
    try:
        if read_json(path).get("run_id") == run.id:
            path.unlink()
    except (OSError, ValueError):
        pass


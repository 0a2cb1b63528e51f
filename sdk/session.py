"""The process-wide session: `init()`, the active run, and the module-level calls on it.

At most one run is active per process. An unfinished run is finished at interpreter exit,
as failed if an unhandled exception or a nonzero `sys.exit()` is what ended the program.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from runlake.engine.errors import RunExistsError, UsageError
from runlake.engine.layout import RunPaths, project_dir, resolve_root, validate_name

from .run_config import Config, config_source
from .metric import Metric
from .names import new_run_id, new_run_name
from .live_run import Run
from .settings import Settings, resolve

_lock = threading.RLock()
_active: Run | None = None
_exit_hooks_installed = False
_unhandled: BaseException | None = None
_exit_code = 0  # the code of the last sys.exit() call

Reinit = bool | Literal["default", "return_previous", "finish_previous", "create_new"] | None


def active_run() -> Run | None:
    return _active


def init(
    project: str | None = None,
    entity: str | None = None,
    config: Any = None,
    name: str | None = None,
    notes: str | None = None,
    tags: Sequence[str] | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,  # noqa: A002 - wandb's name
    mode: Literal["online", "offline", "disabled"] | None = None,
    id: str | None = None,  # noqa: A002 - wandb's name
    reinit: Reinit = None,
    settings: Settings | dict[str, Any] | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    allow_val_change: bool | None = None,
    resume: bool | str | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
) -> Run:
    """Start a run and make it the active one.

    `dir` is the store root (else $RUNLAKE_DIR, else ./runlake); everything of the run is
    written under it.

    >>> import runlake
    >>> with runlake.init(project="demo", mode="disabled", config={"lr": 0.01}) as run:
    ...     run.log({"loss": 0.5})
    """
    global _active
    for arg, value in (("resume", resume), ("resume_from", resume_from), ("fork_from", fork_from)):
        if value not in (None, False):
            raise NotImplementedError(f"init({arg}=...) arrives with issue #5 (resume and fork)")
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise TypeError("init(tags=...) must be a list of strings")
    s = resolve(
        settings, project=project, entity=entity, name=name, notes=notes, tags=tags,
        group=group, job_type=job_type, mode=mode, run_id=id,
        root=None if dir is None else os.fspath(dir),
    )
    with _lock:
        if _active is not None:
            if reinit in (True, "finish_previous"):
                _active.finish()
            elif reinit == "create_new":
                raise UsageError(
                    "runlake keeps one active run per process; finish the active run first"
                )
            else:
                warnings.warn(
                    f"runlake.init() called while run {_active.id} is active: returning it. "
                    "Pass reinit='finish_previous' to start a new run instead.",
                    UserWarning, stacklevel=2,
                )
                return _active
        items = _filter_config(config_source(config), config_include_keys, config_exclude_keys)
        run = _create(s, Config(items), bool(allow_val_change))
        _active = run
        _install_exit_hooks()
        return run


def _filter_config(
    items: dict[str, Any], include: Sequence[str] | None, exclude: Sequence[str] | None
) -> dict[str, Any]:
    if include is not None and exclude is not None:
        raise UsageError("pass config_include_keys or config_exclude_keys, not both")
    if include is not None:
        return {k: v for k, v in items.items() if k in include}
    if exclude is not None:
        return {k: v for k, v in items.items() if k not in exclude}
    return items


def _create(s: Settings, config: Config, allow_val_change: bool) -> Run:
    if s.name is not None and not isinstance(s.name, str):
        raise TypeError(f"init(name=...) must be a string, got {type(s.name).__name__}")
    run_id = validate_name("run id", s.run_id) if s.run_id is not None else new_run_id()
    if s.mode == "disabled":
        run = Run(s, run_id=run_id, name=s.name or new_run_name(1), config=config,
                  on_finish=_finished)
    else:
        root = resolve_root(s.root)
        s = s.replace(root=str(root))
        paths = RunPaths.of(root, s.entity or "", s.project or "", run_id)
        pdir = project_dir(root, paths.entity, paths.project)
        name = s.name or new_run_name(_count_runs(pdir) + 1)
        try:
            paths.run_dir.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise RunExistsError(
                f"run {paths.entity}/{paths.project}/{run_id} already exists in {root}; "
                "use a new id (resuming a run arrives with issue #5)"
            ) from None
        run = Run(s, run_id=run_id, name=name, config=config, paths=paths,
                  on_finish=_finished)
    if allow_val_change:
        object.__setattr__(run.config, "_allow_val_change", True)
    return run


def _count_runs(pdir: Any) -> int:
    try:
        return sum(1 for p in pdir.iterdir() if p.name.startswith("run_id="))
    except FileNotFoundError:
        return 0


def _finished(run: Run) -> None:
    global _active
    with _lock:
        if _active is run:
            _active = None


def _require() -> Run:
    run = _active
    if run is None:
        raise UsageError("You must call runlake.init() before this call (no run is active)")
    return run


def log(
    data: dict[str, Any], step: int | None = None, commit: bool | None = None,
    sync: bool | None = None,
) -> None:
    """Log to the active run; see `Run.log`."""
    run = _active
    if run is None:
        raise UsageError("You must call runlake.init() before runlake.log()")
    run.log(data, step, commit, sync)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run, if there is one."""
    run = _active
    if run is not None:
        run.finish(exit_code, quiet)


def define_metric(
    name: str,
    step_metric: str | Metric | None = None,
    step_sync: bool | None = None,
    hidden: bool | None = None,
    summary: str | None = None,
    goal: str | None = None,
    overwrite: bool | None = None,
) -> Metric:
    """`Run.define_metric` on the active run."""
    return _require().define_metric(name, step_metric, step_sync, hidden, summary, goal, overwrite)


def _install_exit_hooks() -> None:
    global _exit_hooks_installed
    if _exit_hooks_installed:
        return
    _exit_hooks_installed = True
    # A run finished at exit may do its first write then, and that write can import
    # concurrent.futures.thread (pyarrow -> pandas), which refuses to load once interpreter
    # shutdown has begun ("can't register atexit after shutdown"): load it now.
    import concurrent.futures.thread  # noqa: F401

    previous = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        global _unhandled
        _unhandled = exc
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook

    # As wandb does: remember sys.exit()'s code, so `sys.exit(2)` fails a run finished at exit.
    previous_exit = sys.exit

    def exit(status: object = None) -> None:  # noqa: A001 - stands in for sys.exit
        global _exit_code
        _exit_code = 0 if status is None else int(status) if isinstance(status, int) else 1
        previous_exit(status)

    sys.exit = exit
    atexit.register(_finish_at_exit)


def _finish_at_exit() -> None:
    run = _active
    if run is None:
        return
    if _unhandled is not None:
        line = f"{type(_unhandled).__name__}: {_unhandled}"
        run._finish(1, error=line)
    else:
        run._finish(_exit_code)

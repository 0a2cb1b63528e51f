"""The process-wide session: `init()`, the active run, and the module-level calls on it.

The active run (`runlake.run`, wandb's global run) is the one module-level calls such as
`runlake.log` go to. `init(reinit="create_new")` starts further live runs without making
them active, as wandb 0.19.10+ does; every other init() makes its run the active one.
Every unfinished run is finished at interpreter exit, as failed if an unhandled exception or
a nonzero `sys.exit()` is what ended the program.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from types import FrameType
from typing import Any, Literal

from runlake.engine import live, recovery
from runlake.errors import UsageError
from runlake.engine.layout import RunPaths, resolve_root, validate_name

from runlake.tracking.config import Config, config_source
from runlake.tracking.metric import Metric
from runlake.tracking.names import check_label, check_tags, new_run_id, new_run_name
from runlake.tracking.run import Run, error_line
from runlake.tracking.settings import Settings, env, resolve
from runlake.tracking import continuation
from runlake.tracking import code as run_code
from runlake.tracking import files as run_files

_lock = threading.RLock()
_active: Run | None = None
_live: list[Run] = []  # every run of this process not finished or detached, oldest first
_exit_hooks_installed = False
_unhandled: BaseException | None = None
_exit_code = 0  # the code of the last sys.exit() call

Reinit = bool | Literal["default", "return_previous", "finish_previous", "create_new"] | None
_REINITS = (True, False, None, "default", "return_previous", "finish_previous", "create_new")
_ANONYMOUS = (None, "never", "allow", "must")


def active_run() -> Run | None:
    return _active


def live_runs() -> list[Run]:
    """Every run this process has started and not finished, oldest first."""
    with _lock:
        return list(_live)


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
    mode: Literal["online", "offline", "disabled", "dryrun"] | None = None,
    id: str | None = None,  # noqa: A002 - wandb's name
    reinit: Reinit = None,
    settings: Settings | dict[str, Any] | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    allow_val_change: bool | None = None,
    resume: bool | str | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    save_code: bool | None = None,
    anonymous: Literal["never", "allow", "must"] | None = None,
    force: bool | None = None,
    tensorboard: bool | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
) -> Run:
    """Start a run and make it the active one.

    `dir` takes wandb's meaning: a folder the store lives under, at `dir/runlake-store` (as
    wandb writes `dir/wandb/`). The store root, highest first: `settings=Settings(root=...)`,
    $RUNLAKE_DIR, `dir` (or `Settings(root_dir=...)`), $WANDB_DIR (a folder, like `dir`),
    ./runlake-store. A store written at `dir` itself by older runlake is still used there.
    `resume` ("allow", "must", "never", "auto" or True), `resume_from` and
    `fork_from` ("<run_id>?_step=<N>") continue, rewind or fork a run
    (sdk/tracking/continuation.py).
    `save_code=True` (or $RUNLAKE_SAVE_CODE) logs the entry script as a "code" artifact.

    While a run is live, `reinit` says what another init() does, as wandb 0.19.10+ does:
    "return_previous" (or False) returns the latest live run, "finish_previous" (or True)
    finishes every live run first, "create_new" starts one more live run that does not
    become `runlake.run`, and "default" (None) is "finish_previous" in a notebook kernel and
    "return_previous" elsewhere. `mode="dryrun"` is "offline". `anonymous` and `force` are
    accepted and change nothing (there are no accounts to log in to);
    `sync_tensorboard`, `tensorboard` and `monitor_gym` warn that nothing is copied from them.

    >>> import runlake
    >>> with runlake.init(project="demo", mode="disabled", config={"lr": 0.01}) as run:
    ...     run.log({"loss": 0.5})
    """
    global _active
    if tags is not None:
        tags = check_tags("init(tags=...)", tags)
    _check_choice("anonymous", anonymous, _ANONYMOUS)
    _unsupported(tensorboard=tensorboard, sync_tensorboard=sync_tensorboard,
                 monitor_gym=monitor_gym)
    s = resolve(
        settings, project=project, entity=entity, name=name, notes=notes, tags=tags,
        group=group, job_type=job_type, mode=mode, run_id=id,
        root_dir=None if dir is None else os.fspath(dir), save_code=save_code,
    )
    if reinit is None:
        reinit = s.reinit
    _check_choice("reinit", reinit, _REINITS)
    if resume is None and resume_from is None and fork_from is None:
        resume = env("RESUME")  # $RUNLAKE_RESUME, else $WANDB_RESUME, as wandb reads it
    request = continuation.request(resume, resume_from, fork_from, s.run_id)
    with _lock:
        if _live:
            previous = _live[-1]
            if reinit in (True, "finish_previous") or (
                reinit in (None, "default") and _in_notebook()
            ):
                for run in reversed(list(_live)):
                    run.finish()
            elif reinit == "create_new":
                pass
            elif resume == "must":
                raise UsageError(
                    f"init(resume='must') called while run {previous.id} is live: finish it "
                    "with run.finish(), or pass reinit='create_new' to keep it going"
                )
            else:
                warnings.warn(
                    f"runlake.init() called while run {previous.id} is live: returning it. "
                    "Pass reinit='finish_previous' to start a new run instead, or "
                    "reinit='create_new' to start one more.",
                    UserWarning, stacklevel=2,
                )
                return previous
        items = _filter_config(config_source(config), config_include_keys, config_exclude_keys)
        run = _create(s, Config(items), bool(allow_val_change), request)
        _live.append(run)
        if reinit != "create_new":
            _active = run
        _install_exit_hooks()
        if not run.disabled:
            _install_sigterm()
            _recover_project(run)
            if s.save_code:
                run_code.save_entry_script(run.project, run.log_artifact)
        return run


def _check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if any(value is c or (isinstance(c, str) and value == c) for c in choices):
        return
    shown = ", ".join(repr(c) for c in choices if isinstance(c, str))
    raise UsageError(
        f"init({name}=...) must be one of {shown}{', True, False' if True in choices else ''} "
        f"or None; got {type(value).__name__} {value!r}"
    )


def _unsupported(**flags: Any) -> None:
    """wandb's TensorBoard and gym patching: runlake copies nothing from them, and says so."""
    for name, value in flags.items():
        if value:
            warnings.warn(
                f"runlake: init({name}={value!r}) is accepted, but runlake copies nothing "
                "from TensorBoard or gym: log those values with run.log()",
                UserWarning, stacklevel=3,
            )


def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython looked up, never imported)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


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


def _create(
    s: Settings, config: Config, allow_val_change: bool,
    request: continuation.Request | None = None,
) -> Run:
    request = request or continuation.Request()
    for field in ("name", "group", "job_type", "notes"):
        check_label(f"init({field}=...)", getattr(s, field))
    if s.tags is not None:  # also from Settings(tags=...)
        check_tags("init(tags=...)", s.tags)
    run_id = validate_name("run id", s.run_id) if s.run_id is not None else new_run_id()
    if s.mode == "disabled":
        run = Run(s, run_id=run_id, name=s.name or new_run_name(1), config=config,
                  on_finish=_finished)
    else:
        root = resolve_root(s.root, parent=s.root_dir)
        s = s.replace(root=str(root))
        run_id = continuation.run_id_for(request, s, root) or run_id
        paths = RunPaths.of(root, s.entity or "", s.project or "", run_id)
        if continuation.continues(request, paths):
            run = continuation.resume_run(s, paths, config, allow_val_change, request, _finished)
        else:
            def name() -> str:  # numbered once the run is claimed: a refused init counts none
                return s.name or new_run_name(live.next_number(root, paths.entity, paths.project,
                                                               paths.run_id))

            if request.mode == "fork":
                run = continuation.fork_run(s, paths, name, config, allow_val_change, request,
                                            _finished)
            else:
                continuation.claim_new(paths, request)
                run = Run(s, run_id=run_id, name=name(), config=config, paths=paths,
                          on_finish=_finished)
        continuation.remember_auto(run, request, root)
    if allow_val_change:
        object.__setattr__(run.config, "_allow_val_change", True)
    return run


def _finished(run: Run, exit_code: int | None) -> None:
    """After finish() or detach(): no longer the active run, so exit leaves it alone. Its
    resume="auto" marker goes once it exits with 0; a detached run (exit_code None) keeps
    it: the run is unfinished, and auto-resume should find it."""
    global _active
    continuation.forget_auto(run, exit_code)
    with _lock:
        if run in _live:
            _live.remove(run)
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


def save(glob_str: Any = None, base_path: Any = None,
         policy: Literal["live", "now", "end"] = "live") -> bool | list[str]:
    """`Run.save` on the active run."""
    return _require().save(glob_str, base_path, policy)


def restore(name: str, run_path: str | None = None, replace: bool = False,
            root: str | None = None) -> Any:
    """`Run.restore` on the active run; with `run_path`, also before (or without) `init()`,
    from the store $RUNLAKE_DIR (else ./runlake-store), into `root` (default the working folder)."""
    run = _active
    if run is not None:
        return run.restore(name, run_path, replace, root)
    return run_files.restore(None, name, run_path, replace, root)


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,  # noqa: A002
                 aliases: Any = None, tags: Any = None) -> Any:
    """`Run.log_artifact` on the active run (wandb's `wandb.log_artifact`)."""
    return _require().log_artifact(artifact_or_path, name, type, aliases, tags)


def use_artifact(artifact_or_name: Any, type: str | None = None, aliases: Any = None,  # noqa: A002
                 use_as: str | None = None) -> Any:
    """`Run.use_artifact` on the active run (wandb's `wandb.use_artifact`)."""
    return _require().use_artifact(artifact_or_name, type, aliases, use_as)


def log_model(path: Any, name: str | None = None, aliases: Any = None) -> None:
    """`Run.log_model` on the active run."""
    _require().log_model(path, name, aliases)


def use_model(name: str) -> str:
    """`Run.use_model` on the active run."""
    return _require().use_model(name)


def link_model(path: Any, registered_model_name: str, name: str | None = None,
               aliases: Any = None) -> None:
    """`Run.link_model` on the active run."""
    _require().link_model(path, registered_model_name, name, aliases)


def mark_preempting() -> None:
    """`Run.mark_preempting` on the active run."""
    _require().mark_preempting()


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """`Run.alert` on the active run (wandb's `wandb.alert`)."""
    _require().alert(title, text, level, wait_duration)


class _NotInitialized(UsageError, ValueError):
    """watch() before init() raises ValueError in wandb's Run reference; still a UsageError."""


def watch(models: Any, criterion: Any = None, log: str | None = "gradients",
          log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
    """`Run.watch` on the active run (wandb's `wandb.watch`)."""
    run = _active
    if run is None:
        raise _NotInitialized("You must call runlake.init() before runlake.watch()")
    run.watch(models, criterion, log, log_freq, idx, log_graph)


def unwatch(models: Any = None) -> None:
    """`Run.unwatch` on the active run; nothing without one."""
    run = _active
    if run is not None:
        run.unwatch(models)


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
    for run in reversed(live_runs()):
        if _unhandled is not None:
            run._stop(1, error=error_line(type(_unhandled), _unhandled))
        else:
            run._stop(_exit_code)


# -- crashes and preemption (docs/DESIGN.md, "Run states", "Preemption") --------------------


def _recover_project(run: Run) -> None:
    """The next writer of a project recovers its runs whose writer died (compacts their WAL
    files, marks them crashed), in a thread so init() does not wait. Not a daemon: exit waits
    for it rather than stop it mid-write (harmless, but it would leave the work undone)."""
    paths = run._paths
    if paths is None:
        return

    def work() -> None:
        # Best effort, silently: the next reader or `runlake recover` tries again.
        with contextlib.suppress(Exception):
            # The project's live-runs registry, not its every run; one run at a time under
            # the session lock: a recovery holds the run's lock, which an init() resuming
            # that run in this process must not find taken.
            recovery.recover_project(paths.root, paths.entity, paths.project, guard=_lock)

    threading.Thread(target=work, name="runlake-recover", daemon=False).start()


_PREEMPT_TIMEOUT = 20.0  # seconds SIGTERM waits for rows to be durable (grace is usually >= 30 s)
_RETRY_DELAY = 0.01  # seconds before a SIGTERM that interrupted runlake itself is taken again
_MAX_RETRIES = 300
_sigterm_previous: Any = None
_sigterm_pid = 0
_sigterm_retries = 0


def _install_sigterm() -> None:
    """Handle SIGTERM as a preemption notice (`_on_sigterm`): from the main thread only (the
    only one that may), in front of whatever handler was there."""
    global _sigterm_previous, _sigterm_pid
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm or current is None or current == signal.SIG_IGN:
        return  # ours already; set outside Python (could not be restored); ignored on purpose
    _sigterm_previous, _sigterm_pid = current, os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Make the active run's rows durable and record it "preempting", then restore the
    previous handler and raise the signal again: the process ends (or not) as it would have
    without runlake, by default killed by SIGTERM."""
    global _sigterm_retries
    runs = live_runs()
    if runs and os.getpid() == _sigterm_pid:  # not a forked child (a DataLoader worker)
        if _in_runlake(frame):
            # The main thread was stopped inside runlake, maybe holding a lock the flush needs
            # (flushing here could deadlock): let it leave, and take the signal again.
            if _sigterm_retries < _MAX_RETRIES:
                _sigterm_retries += 1
                threading.Timer(_RETRY_DELAY, os.kill, (os.getpid(), signum)).start()
                return
        else:
            for run in runs:
                with contextlib.suppress(Exception):  # dying anyway; what is durable stays
                    run._preempt(_PREEMPT_TIMEOUT)
    _sigterm_retries = 0
    signal.signal(signum, _sigterm_previous)
    signal.raise_signal(signum)


# Modules whose frames hold no lock a flush needs: entry points (`runlake demo` logs from
# inside one) and the read side.
_LOCK_FREE = ("runlake.cli", "runlake.__main__", "runlake.query")


def _in_runlake(frame: FrameType | None) -> bool:
    """Whether the interrupted thread is inside runlake code that may hold a run's lock."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if (name == "runlake" or name.startswith("runlake.")) and not name.startswith(_LOCK_FREE):
            return True
        frame = frame.f_back
    return False

"""`Run`: the unit of computation logged by runlake, with wandb's `Run` API.

The Run owns the step rules of `log()` and delegates the rest: values are normalised by
`values`, rows are buffered by the engine's `HistoryBuffer` and written by its `RunWriter`,
the summary, config and metric definitions live in their own small modules.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from runlake.engine import lock
from runlake.engine.buffer import HistoryBuffer
from runlake.engine.errors import InvalidValueError, UsageError
from runlake.engine.layout import RunPaths
from runlake.engine.meta import RunMeta
from runlake.engine.writer import RunWriter

from .run_config import Config
from .metric import Metric, MetricRegistry
from .settings import Settings
from .run_summary import Summary
from .values import flatten

# Seed API methods that later issues bring; calling one says which.
_LATER = {
    "status": 5, "mark_preempting": 5,
    "log_artifact": 6, "use_artifact": 6, "link_artifact": 6, "upsert_artifact": 6,
    "finish_artifact": 6, "log_model": 6, "use_model": 6, "link_model": 6, "log_code": 6,
    "save": 6, "restore": 6,
    "alert": 7, "watch": 7, "unwatch": 7, "plot_table": 7, "display": 7, "to_html": 7,
    "detach": 7,
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Run:
    """A run: create it with `runlake.init()`, log to it, finish it.

    >>> import runlake
    >>> with runlake.init(mode="disabled") as run:
    ...     run.log({"loss": 0.5})
    """

    def __init__(
        self,
        settings: Settings,
        *,
        run_id: str,
        name: str,
        config: Config | dict[str, Any] | None = None,
        paths: RunPaths | None = None,
        on_finish: Any = None,
    ) -> None:
        self._settings = settings
        self._id = run_id
        self._name = name
        self._paths = paths
        self._disabled = settings.mode == "disabled"
        self._on_finish = on_finish
        self._finished = False
        self._log_lock = threading.RLock()
        self._pending: dict[str, object] = {}
        self._has_pending = False
        self._start_time = time.time()
        self._tags = tuple(settings.tags or ())
        self._tmp_dir: str | None = None
        self._metrics = MetricRegistry()
        self._buffer = HistoryBuffer()
        self._meta: RunMeta | None = None
        self._writer: RunWriter | None = None
        self._owner: lock.RunLock | None = None
        self._summary_version = -1
        self._last_heartbeat = self._start_time
        items = dict(config.items()) if isinstance(config, Config) else dict(config or {})
        self._config = Config(items, on_change=self._config_changed)
        if self._disabled:
            self._summary = Summary(self._metrics)
            return
        assert paths is not None
        self._owner = lock.acquire(paths)  # held until finish(), or dropped by process death
        paths.files_dir.mkdir(parents=True, exist_ok=True)
        self._meta = RunMeta(paths.meta_file, self._initial_meta())
        self._meta.update()
        self._writer = RunWriter(
            paths, self._buffer, self._start_time, settings.writer_options(),
            observer=self._fold, on_cycle=self._persist,
        )
        self._summary = Summary(self._metrics, sync=self._writer.drain)
        self._writer.start()

    def _initial_meta(self) -> dict[str, Any]:
        s = self._settings
        return {
            "id": self._id, "entity": s.entity, "project": s.project, "name": self._name,
            "display_name": self._name, "group": s.group, "job_type": s.job_type,
            "tags": list(self._tags), "notes": s.notes, "config": self._config.as_dict(),
            "summary": {}, "metrics": [], "state": "running", "exit_code": None,
            "error": None, "created_at": iso(self._start_time), "start_time": self._start_time,
            "heartbeat_at": iso(self._start_time), "finished_at": None,
            "host": socket.gethostname(), "pid": os.getpid(), "sweep_id": None,
        }

    # -- attributes (the seed's table) -----------------------------------------------------------

    @property
    def summary(self) -> Summary:
        return self._summary

    @property
    def config(self) -> Config:
        return self._config

    @property
    def dir(self) -> str:
        """The directory for the run's own files."""
        if self._paths is not None:
            return str(self._paths.files_dir)
        if self._tmp_dir is None:  # disabled mode writes nothing to the store
            self._tmp_dir = tempfile.mkdtemp(prefix="runlake-disabled-")
        return self._tmp_dir

    @property
    def entity(self) -> str:
        return self._settings.entity or ""

    @property
    def project(self) -> str:
        return self._settings.project or ""

    def project_name(self) -> str:
        return self.project

    @property
    def id(self) -> str:
        return self._id

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self._id}"

    @property
    def mode(self) -> str:
        return self._settings.mode or "online"

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def start_time(self) -> float:
        return self._start_time

    @property
    def starting_step(self) -> int:
        return 0

    @property
    def resumed(self) -> bool:
        return False

    @property
    def step(self) -> int:
        return self._buffer.step

    @property
    def sweep_id(self) -> str | None:
        return None

    @property
    def offline(self) -> bool:
        return True

    @property
    def disabled(self) -> bool:
        return self._disabled

    @property
    def url(self) -> str | None:
        return self.get_url()

    def get_url(self) -> str | None:
        """A file:// URL of the run's folder in the store (None when disabled)."""
        return self._paths.run_dir.as_uri() if self._paths is not None else None

    def get_project_url(self) -> str | None:
        return self._paths.run_dir.parent.as_uri() if self._paths is not None else None

    def get_sweep_url(self) -> str | None:
        return None

    def _editable(field: str, doc: str) -> property:  # noqa: N805 - property factory
        def get(self: Run) -> Any:
            return getattr(self, f"_{field}") if field in ("name", "tags") else self._settings_get(field)

        def set_(self: Run, value: Any) -> None:
            self._set_meta_field(field, value)

        return property(get, set_, doc=doc)

    name = _editable("name", "The run's display name (settable).")
    tags = _editable("tags", "The run's tags, a tuple (settable).")
    notes = _editable("notes", "The run's notes (settable).")
    group = _editable("group", "The run's group (settable).")
    job_type = _editable("job_type", "The run's job type (settable).")
    del _editable

    def _settings_get(self, field: str) -> Any:
        return getattr(self._settings, field)

    def _set_meta_field(self, field: str, value: Any) -> None:
        if field == "tags":
            if isinstance(value, str) or not all(isinstance(t, str) for t in value):
                raise TypeError("run.tags must be a list or tuple of strings")
            value = tuple(value)
            self._tags = value
        elif value is not None and not isinstance(value, str):
            raise TypeError(f"run.{field} must be a string, got {type(value).__name__}")
        if field == "name":
            self._name = value
        elif field != "tags":
            self._settings = self._settings.replace(**{field: value})
        if self._meta is not None:
            changes = {field: list(value) if field == "tags" else value}
            if field == "name":
                changes["display_name"] = value
            self._meta.update(**changes)

    # -- logging -----------------------------------------------------------------------------------

    def log(
        self,
        data: dict[str, Any],
        step: int | None = None,
        commit: bool | None = None,
        sync: bool | None = None,
    ) -> None:
        """Log a dict of values to the run's history (wandb's step rules).

        >>> import runlake
        >>> with runlake.init(mode="disabled") as run:
        ...     run.log({"loss": 0.2}, commit=False)
        ...     run.log({"accuracy": 0.8})
        """
        # The hot path: a row shaped like the last one needs no normalising.
        if step is None and commit is None and self._buffer.append_like_last(data):
            return
        self._log(data, step, commit)

    def _log(self, data: Any, step: Any, commit: bool | None) -> None:
        if self._finished:
            raise UsageError(f"run {self._id} is finished; log() needs a new runlake.init()")
        if self._disabled:
            return
        if not isinstance(data, Mapping):
            raise InvalidValueError(
                f"log() takes a dict of metric names to values, got {type(data).__name__}"
            )
        if step is not None:
            step = _check_step(step)
        row: dict[str, object] = {}
        errors: list[Exception] = []
        flatten(data, row, errors)
        with self._log_lock:
            # Other threads' fast appends must not move the step between reading it and
            # appending at it: disarm first (an append re-arms).
            self._buffer.disarm()
            current = self._buffer.step
            if step is not None and step < current:
                warnings.warn(
                    f"runlake: tried to log to step {step}, which is less than the current step "
                    f"{current}. Steps must be monotonically increasing, so this data will be "
                    "ignored.",
                    UserWarning, stacklevel=3,
                )
                return
            if step is not None and step > current:
                self._commit(current)
                self._buffer.step = step
            if commit is None:
                commit = step is None
            self._pending.update(row)
            self._has_pending = True
            if commit:
                self._commit(self._buffer.step)
            else:
                self._buffer.disarm()
        if errors:
            more = f" ({len(errors) - 1} more refused; the other values were logged)"
            raise type(errors[0])(f"{errors[0]}{more if len(errors) > 1 else ''}") from errors[0]

    def _commit(self, step: int) -> None:
        """Write the pending row at `step` (under the log lock)."""
        if not self._has_pending:
            return
        row = self._pending
        if self._metrics:
            for key in list(row):
                metric = self._metrics.resolve(key)
                if metric is not None and metric.syncs_step and metric.step_metric not in row:
                    last = self._summary.last_value(metric.step_metric)
                    if last is not None:
                        row[metric.step_metric] = last
        self._buffer.append(tuple(row), row.values(), step)
        self._pending = {}
        self._has_pending = False

    def define_metric(
        self,
        name: str,
        step_metric: str | Metric | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        """Customise a metric (or a glob like "train/*"): x-axis, summary, goal.

        >>> import runlake
        >>> with runlake.init(mode="disabled") as run:
        ...     run.define_metric("val/acc", summary="max").summary
        ('max',)
        """
        with self._log_lock:
            if self._writer is not None:
                self._writer.drain()  # rows logged before keep the definitions they had
            metric = self._metrics.define(
                name, step_metric, step_sync, hidden, summary, goal, overwrite
            )
            self._buffer.disarm()
        if self._meta is not None:
            self._meta.update(metrics=self._metrics.to_json())
        return metric

    # -- persistence callbacks (writer thread) -----------------------------------------------------

    def _fold(self, chunks: Any) -> None:
        self._summary.fold(chunks)

    def _persist(self, final: bool) -> None:
        assert self._meta is not None
        changes: dict[str, Any] = {}
        if self._summary.version != self._summary_version:
            self._summary_version = self._summary.version
            changes["summary"] = self._summary.as_dict()
        now = time.time()
        if now - self._last_heartbeat >= self._settings.heartbeat_interval or final:
            self._last_heartbeat = now
            changes["heartbeat_at"] = iso(now)
        if changes:
            self._meta.update(**changes)

    def _config_changed(self, config: dict[str, Any]) -> None:
        if self._meta is not None:
            self._meta.update(config=config)

    # -- finishing ---------------------------------------------------------------------------------

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Finish the run: write everything, compact it into Parquet, record the state."""
        self._finish(exit_code)

    def join(self, exit_code: int | None = None) -> None:
        """Deprecated alias of `finish()`."""
        self._finish(exit_code)

    def _finish(self, exit_code: int | None, error: str | None = None) -> None:
        with self._log_lock:
            if self._finished:
                return
            self._commit(self._buffer.step)
            self._finished = True
            self._buffer.disarm()
        try:
            if self._writer is not None and self._meta is not None:
                self._writer.close()
                failed = bool(exit_code)
                self._meta.update(
                    state="failed" if failed else "finished",
                    exit_code=0 if exit_code is None else int(exit_code),
                    error=error,
                    summary=self._summary.as_dict(),
                    finished_at=iso(time.time()),
                )
                if self._writer.error is not None:
                    warnings.warn(
                        f"runlake: run {self._id} finished with a write error: "
                        f"{self._writer.error!r}", RuntimeWarning, stacklevel=3,
                    )
        finally:
            if self._owner is not None:
                self._owner.release()
            if self._on_finish is not None:
                self._on_finish(self)

    def _flush(self, timeout: float | None = None) -> bool:
        """Block until everything logged so far is in the write-ahead log."""
        with self._log_lock:
            pass
        return self._writer.flush(timeout) if self._writer is not None else True

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None:
            self._finish(0)
        else:
            last = "".join(traceback.format_exception_only(exc_type, exc)).strip()
            self._finish(1, error=last.splitlines()[-1] if last else exc_type.__name__)
        return False

    def __getattr__(self, name: str) -> Any:
        issue = _LATER.get(name)
        if issue is not None:
            # A stub rather than raising here: hasattr()/getattr(run, name, None) must not
            # raise anything but AttributeError (integrations probe for wandb's methods).
            def later(*_: Any, **__: Any) -> Any:
                raise NotImplementedError(
                    f"Run.{name}() is not available yet: it arrives with issue #{issue}"
                )

            later.__name__ = name
            return later
        raise AttributeError(f"'Run' object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<runlake.Run {self.path} ({self._name})>"


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        index = getattr(step, "__index__", None)
        if isinstance(step, bool) or index is None:
            raise InvalidValueError(
                f"log() step must be an int, got {type(step).__name__} {step!r}: pass an "
                "integer step, or leave it out to use the run's own counter"
            )
        step = index()
    if step < 0:
        raise ValueError(f"log() step must be >= 0, got {step}")
    return int(step)

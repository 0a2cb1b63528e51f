"""`Run`: the unit of computation logged by runlake, with wandb's `Run` API.

The Run owns the step rules of `log()` and how a run stops (finish and detach), and delegates
the rest: values are normalised by `values`, rows are buffered by the engine's
`HistoryBuffer` and written by its `RunWriter`, the summary, config and metric definitions
live in their own small modules, and alerts, saved files, watch, artifacts, models, code and
the notebook card take the run's `RunHandle` (handle.py), never the Run.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal

from runlake.engine import lock
from runlake.engine.buffer import HistoryBuffer
from runlake.errors import InvalidNameError, InvalidValueError
from runlake.engine.media_files import FileQueue
from runlake.engine.layout import RunPaths
from runlake.engine.meta import RunMeta, RunState
from runlake.engine.times import iso
from runlake.engine.writer import RunWriter
from runlake.engine import urls
from runlake.media.base import Media
from runlake.media.store import MediaList, MediaStore, encode_row

from runlake.tracking import artifacts as run_artifacts
from runlake.tracking import card
from runlake.tracking import code as run_code
from runlake.tracking import files as run_files
from runlake.tracking import models as run_models
from runlake.tracking import monitors as run_monitors
from runlake.tracking.alerts import AlertLevel, Alerts
from runlake.tracking.config import Config
from runlake.tracking.handle import RunHandle
from runlake.tracking.metric import Metric, MetricRegistry
from runlake.tracking.names import check_label, check_tags
from runlake.tracking.settings import Settings
from runlake.tracking.summary import Summary
from runlake.tracking.values import flatten, media_of
from runlake.tracking.watch import Watcher
from runlake.tracking.wandb_attrs import WandbRunAttrs

if TYPE_CHECKING:
    from runlake.artifacts.artifact import Artifact
    from runlake.tracking.continued import Continued
    from runlake.tracking.files import FileSync

@dataclass(frozen=True)
class RunStatus:
    """Where a run's rows are (`run.status()`), counted since `init()` in this process.

    Rows go logged -> durable (in the write-ahead log: a killed process keeps them) ->
    compacted (in a Parquet segment).
    """

    rows_logged: int  # steps committed by log()
    rows_durable: int  # of those, in the write-ahead log or a segment
    rows_compacted: int  # of those, in a published Parquet segment
    last_flush: float | None  # Unix time of the last write-ahead-log append, None before one
    error: str | None  # the writer's current write error (it keeps retrying), None if none


class Run(WandbRunAttrs):
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
        continued: Continued | None = None,
    ) -> None:
        self._paths = paths
        self._disabled = settings.mode == "disabled"
        # on_finish(run, exit_code): the session's, once the run is no longer this process's
        # (exit_code None after detach: the run goes on elsewhere).
        self._on_finish = on_finish
        self._pending: dict[str, object] = {}
        # Every key this run has logged, and each by its casefold: two keys that differ only in
        # case would be one column to DuckDB, whose names are case-insensitive.
        self._keys: set[str] = set()
        self._folded: dict[str, str] = {}
        self._has_pending = False
        # A continued run (resumed, rewound, forked) starts from what continuation.py read.
        self._continued = continued
        self._start_time = time.time() if continued is None else continued.start_time
        self._tags = tuple(settings.tags or ())
        self._tmp_dir: str | None = None
        self._metrics = MetricRegistry() if continued is None else continued.metrics
        self._buffer = HistoryBuffer(0 if continued is None else continued.step)
        self._append_fast = self._buffer.lane.append_like_last  # bound once: log()'s hot path
        # What alerts, files, watch, artifacts, code and the card use; the name, settings and
        # finished/detached state live there only.
        self._h = RunHandle(run_id, name, settings, None if self._disabled else paths,
                            self._buffer)
        self._log_lock = self._h.log_lock
        self._meta: RunMeta | None = None
        self._writer: RunWriter | None = None
        self._owner: lock.RunLock | None = None
        self._media: MediaStore | None = None
        self._summary_version = -1
        self._last_heartbeat = self._start_time
        items = dict(config.items()) if isinstance(config, Config) else dict(config or {})
        self._config = Config(items, on_change=self._config_changed)
        if self._disabled:
            self._summary = Summary(self._metrics)
            return
        assert paths is not None
        # Held until finish(), or dropped by process death; a continued run's is taken already.
        self._owner = lock.acquire(paths) if continued is None else continued.owner
        paths.files_dir.mkdir(parents=True, exist_ok=True)
        meta = self._initial_meta()
        if continued is not None:
            meta.update(continued.meta)
        self._meta = self._h.meta = RunMeta(paths.meta_file, meta)
        self._meta.update()
        self._media = MediaStore(FileQueue())
        self._writer = self._h.writer = RunWriter(
            paths, self._buffer, self._start_time, settings.writer_options(),
            observer=self._fold, on_cycle=self._persist,
            first_seq=0 if continued is None else continued.first_seq,
            files=self._media.files,
        )
        self._summary = Summary(self._metrics, sync=self._writer.drain,
                                encode=self._summary_media, start_time=self._start_time)
        if continued is not None:
            # New rows must land in the columns (and `@family` siblings) the run already has.
            self._writer.schema = continued.schema
            for name in continued.schema.columns:  # a resumed run's keys count as logged
                if "@" not in name:
                    self._keys.add(name)
                    self._folded.setdefault(name.casefold(), name)
            self._summary.restore(continued.last, continued.aggregates, continued.user,
                                  continued.deleted)
        self._writer.start()
        # System metrics and console capture: own threads and files, nothing on log()'s path.
        self._monitors = run_monitors.start(settings, paths, self._start_time)

    _monitors: run_monitors.Monitors | None = None  # a live run's
    # Made on first use: a run that never saves, alerts or watches has none of them.
    _files: FileSync | None = None
    _alerts: Alerts | None = None
    _watcher: Watcher | None = None

    def _initial_meta(self) -> dict[str, Any]:
        h = self._h
        s = h.settings
        return {
            "id": h.id, "entity": s.entity, "project": s.project, "name": h.name,
            "display_name": h.name, "group": s.group, "job_type": s.job_type,
            "tags": list(self._tags), "notes": s.notes, "config": self._config.as_dict(),
            "summary": {}, "metrics": [], "state": RunState.RUNNING, "exit_code": None,
            "error": None, "created_at": iso(self._start_time), "start_time": self._start_time,
            "heartbeat_at": iso(self._start_time), "finished_at": None,
            "host": socket.gethostname(), "pid": os.getpid(), "sweep_id": None,
            "fork_from": None,
        }

    # -- attributes (the table in wandb's Run reference) -----------------------------------------

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
        return self._h.entity

    @property
    def project(self) -> str:
        return self._h.project

    def project_name(self) -> str:
        return self.project

    @property
    def id(self) -> str:
        return self._h.id

    @property
    def path(self) -> str:
        return self._h.path

    @property
    def mode(self) -> str:
        return self._h.settings.mode or "online"

    @property
    def settings(self) -> Settings:
        return self._h.settings

    @property
    def start_time(self) -> float:
        return self._start_time

    @property
    def starting_step(self) -> int:
        """The first step this process logs: 0, or where a resumed/rewound/forked run goes on."""
        return 0 if self._continued is None else self._continued.step

    @property
    def resumed(self) -> bool:
        """Whether init() continued an existing run (resume or resume_from; a fork is new)."""
        return self._continued is not None and self._continued.resumed

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
        """The run's dashboard link; None unless a base URL is set (engine/urls.py)."""
        return self.get_url()

    def get_url(self) -> str | None:
        """`<base_url>/<entity>/<project>/runs/<id>`, or None: a local run has no URL until
        `Settings(base_url=...)` or $RUNLAKE_BASE_URL names a dashboard (as wandb's offline
        runs have none).

        >>> import runlake
        >>> with runlake.init(mode="disabled") as run:
        ...     print(run.get_url())
        None
        """
        return self._h.url()

    def get_project_url(self) -> str | None:
        """`<base_url>/<entity>/<project>`, or None without a base URL."""
        return urls.project_url(self._h.base_url, self.entity, self.project)

    def get_sweep_url(self) -> str | None:
        """The sweep's link; None without a base URL or a sweep (runlake has no sweeps yet)."""
        return urls.sweep_url(self._h.base_url, self.entity, self.project, self.sweep_id)

    def _editable(field: str, doc: str) -> property:  # noqa: N805 - property factory
        def get(self: Run) -> Any:
            if field == "name":
                return self._h.name
            return self._tags if field == "tags" else getattr(self._h.settings, field)

        def set_(self: Run, value: Any) -> None:
            self._set_meta_field(field, value)

        return property(get, set_, doc=doc)

    name = _editable("name", "The run's display name (settable).")
    tags = _editable("tags", "The run's tags, a tuple (settable).")
    notes = _editable("notes", "The run's notes (settable).")
    group = _editable("group", "The run's group (settable).")
    job_type = _editable("job_type", "The run's job type (settable).")
    del _editable

    def _set_meta_field(self, field: str, value: Any) -> None:
        if field == "tags":
            value = check_tags("run.tags", value)
            self._tags = value
        else:
            check_label(f"run.{field}", value)
        if field == "name":
            self._h.name = value
        elif field != "tags":
            self._h.settings = self._h.settings.replace(**{field: value})
        if self._meta is not None:
            changes = {field: list(value) if field == "tags" else value}
            if field == "name":
                changes["display_name"] = value
            self._write_meta(**changes)

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
        # The hot path: a row shaped like the last one needs no normalising. The lane
        # (engine/_native.c) takes all-number rows; 2 means the writer is behind.
        if step is None and commit is None:
            got = self._append_fast(data)
            if got:
                if got == 2:
                    self._buffer.wait_for_writer()
                return
            if self._buffer.append_objects_like_last(data):
                return
        self._log(data, step, commit)

    def _log(self, data: Any, step: Any, commit: bool | None) -> None:
        self._h.require_live("log()")
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
        keys = self._keys
        new_keys = [] if keys.issuperset(row) else [k for k in row if k not in keys]
        for key in new_keys:
            self._check_new_key(key, new_keys, errors)
        if errors:  # all or nothing, as in wandb: a call that raises logs no value
            _raise_first(errors)
        with self._log_lock:
            # Other threads' fast appends must not move the step between reading it and
            # appending at it: disarm first (an append re-arms).
            self._buffer.disarm()
            current = self._buffer.step
            if step is None and current > _MAX_STEP:
                raise InvalidValueError(
                    f"run {self._h.id}'s step counter is past 2**63 - 1 (the int64 `_step`); "
                    "nothing more can be logged to it: start a new run"
                )
            if step is not None and step < current:
                warnings.warn(
                    f"runlake: tried to log to step {step}, which is less than the current step "
                    f"{current}. Steps must be monotonically increasing, so this data will be "
                    "ignored.",
                    UserWarning, stacklevel=3,
                )
                return
            at = step if step is not None and step > current else current
            has_media = self._media is not None and any(
                isinstance(v, (Media, MediaList)) for v in row.values())
            if self._media is not None:  # files and references, once the step is known
                encode_row(self._media, row, at, errors)
                if errors:  # files already queued are named by no row, like a crash's
                    _raise_first(errors)
            for key in new_keys:
                self._keys.add(key)
                self._folded.setdefault(key.casefold(), key)
            if at > current:
                self._commit(current)
                self._buffer.step = at
            if commit is None:
                commit = step is None
            self._pending.update(row)
            self._has_pending = True
            if commit:
                self._commit(self._buffer.step)
            else:
                self._buffer.disarm()
        if has_media:
            self._settle_media()

    def _settle_media(self) -> None:
        """Wait until this call's media files are in run.dir, as wandb writes them inside
        log(); a write error is the writer's to report (write errors never reach the loop)."""
        assert self._media is not None and self._paths is not None
        try:
            self._media.files.settle(self._paths.files_dir)
        except Exception:  # noqa: BLE001 - reported by the writer, which retries
            pass

    def _check_new_key(self, key: str, new_keys: list[str], errors: list[Exception]) -> None:
        folded = key.casefold()
        twin = self._folded.get(folded)
        if twin is None:  # a case twin within this call: the first spelling is the key
            twin = next(k for k in new_keys if k.casefold() == folded)
        if twin != key:
            errors.append(InvalidNameError(
                f"log() key {key!r} differs from the key {twin!r} this run has logged only in "
                "case; SQL engines such as DuckDB read column names without case, so the two "
                f"would be one column: log it as {twin!r}, or give it another name"))

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
        if step == _MAX_STEP:  # the next step overflows int64: refuse it in _log, not the buffer
            self._buffer.disarm()

    def _summary_media(self, key: str, value: Any) -> Any:
        """`summary[key] = Image(...)`: the value stored as a file, the summary holds its
        reference (as wandb does); other values unchanged."""
        media = media_of(key, value)
        if media is None or self._media is None:
            return value
        with self._log_lock:  # the file is named by the current step
            return dict(self._media.reference(key, self._buffer.step, media))

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
            self._write_meta(metrics=self._metrics.to_json())
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
        if now - self._last_heartbeat >= self._h.settings.heartbeat_interval or final:
            self._last_heartbeat = now
            changes["heartbeat_at"] = iso(now)
        if changes or self._meta_stale:
            self._meta_stale = True
            self._meta.update(**changes)  # a failure is the writer's error: reported, retried
            self._meta_stale = False

    _meta_stale = False  # run.json lacks a change whose write failed (the writer retries it)

    def _write_meta(self, **changes: Any) -> None:
        """Write a change to run.json from the user's thread. A failed write (a full or
        read-only store) must not stop training: the change is kept and the writer thread
        rewrites the file on its next cycles, reporting the error as it does for history."""
        assert self._meta is not None
        if self._h.detached:  # another process may own run.json now
            raise self._h.closed(f"changing {', '.join(changes)}")
        try:
            self._meta.update(**changes)  # keeps `changes` in memory even when the write fails
        except OSError:
            self._meta_stale = True

    def _config_changed(self, config: dict[str, Any]) -> None:
        if self._meta is not None:
            self._write_meta(config=config)

    # -- finishing and detaching: one way to stop -------------------------------------------------

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Finish the run: write everything, compact it into Parquet, record the state."""
        self._stop(exit_code)

    def join(self, exit_code: int | None = None) -> None:
        """Deprecated alias of `finish()`."""
        self._stop(exit_code)

    def detach(self) -> None:
        """Let go of the run without finishing it: flush and compact everything, stop the
        writer, record state "detached" and release the run's lock, so another process (or
        this one) can continue it with `init(id=..., resume="must")`. `log()` and the other
        writing calls then raise UsageError, and it is no longer the active run, so exit does
        not finish it. A no-op in mode="disabled" and on a detached run.

        >>> import runlake
        >>> run = runlake.init(mode="disabled")
        >>> run.detach()
        >>> run.finish()
        """
        if not self._disabled:  # a disabled run holds nothing to let go of
            self._stop(detach=True)

    def _stop(self, exit_code: int | None = None, error: str | None = None, *,
              detach: bool = False) -> None:
        """The one way a run stops being this process's: finish() (and exit), or detach().

        Both commit the pending row and refuse every writing call from then on, give saved
        files their last copies, make every row durable and compacted into Parquet, stop the
        writer, model hooks, alert posts, system sampling and console capture, and release the
        run's ownership lock. They differ where `detach` is tested: what run.json records
        (how the run ended, or "detached" with a last heartbeat: not a live state, so readers
        and recovery leave it alone, where a "running" run.json without a lock holder would
        read "crashed"), and the exit code the session is told (none after detach, so the
        resume="auto" marker stays for the run to be continued).
        """
        h = self._h
        with h.log_lock:
            if h.finished:  # finish() after either is a no-op, and so is detach() after detach()
                if detach and not h.detached:
                    raise h.closed("detach()")
                return
            self._commit(self._buffer.step)
            h.finished = True
            h.detached = detach
            self._buffer.disarm()
        try:
            if self._files is not None:  # before the state: a reader then sees the last copies
                self._files.close()
            if self._writer is not None and self._meta is not None:
                self._writer.close()  # every row into the WAL, then compacted into Parquet
                # A write error the writer gave up on: a warning, and at finish run.json's
                # `error` if the run has none of its own. Stopping returns either way.
                report = self._writer.error_report()
                if detach:
                    record: dict[str, Any] = {"state": RunState.DETACHED,
                                              "heartbeat_at": iso(time.time())}
                    kept = "readers will see it as crashed, and it can still be resumed"
                else:
                    failed = bool(exit_code)
                    # As in wandb: a preempted run that exits non-zero is resumable, not failed.
                    preempted = failed and self._meta.get("state") == RunState.PREEMPTING
                    record = {
                        "state": (RunState.PREEMPTING if preempted else RunState.FAILED if failed
                                  else RunState.FINISHED),
                        "exit_code": 0 if exit_code is None else int(exit_code),
                        "error": error if error is not None else report,
                        "finished_at": iso(time.time()),
                    }
                    kept = "it keeps the state it had"
                try:
                    self._meta.update(summary=self._summary.as_dict(), **record)
                except OSError as exc:
                    warnings.warn(
                        f"runlake: could not write run {self.path}'s run.json at "
                        f"{'detach' if detach else 'finish'} ({type(exc).__name__}: {exc}); "
                        f"{kept}", RuntimeWarning, stacklevel=3,
                    )
                if report is not None:
                    warnings.warn(report, RuntimeWarning, stacklevel=3)
        finally:
            if self._watcher is not None:  # a model outliving the run must not log to it
                self._watcher.unwatch()
            if self._alerts is not None:  # queued webhook posts get their bounded time
                self._alerts.close()
            # Last: the console keeps what stopping printed (warnings), the last system
            # sample is published, and both end before the lock is let go.
            if self._monitors is not None:
                self._monitors.stop()
            if self._owner is not None:
                self._owner.release()
            if self._on_finish is not None:
                recorded = self._meta.get("exit_code") if self._meta is not None else None
                self._on_finish(self, None if detach else recorded)

    def _flush(self, timeout: float | None = None) -> bool:
        """Block until everything logged so far is in the write-ahead log."""
        return self._h.flush(timeout)

    def status(self) -> RunStatus:
        """How many rows are logged, durable and compacted; the last flush; a write error.

        >>> import runlake
        >>> with runlake.init(mode="disabled") as run:
        ...     run.status().rows_logged
        0
        """
        if self._writer is None:
            return RunStatus(self._buffer.rows_logged, 0, 0, None, None)
        st = self._writer.status()
        error = None if st.error is None else f"{type(st.error).__name__}: {st.error}"
        return RunStatus(st.rows_logged, st.rows_durable, st.rows_compacted, st.last_flush,
                         error)

    def mark_preempting(self) -> None:
        """Record that the run is being preempted: state "preempting" in run.json.

        A run that then dies stays "preempting" (resumable, as a wandb sweep reads it); one
        that finishes becomes "finished" or "failed" as usual.
        """
        if self._meta is not None and not self._h.finished:
            self._meta.update(state=RunState.PREEMPTING)

    def _preempt(self, timeout: float) -> None:
        """On SIGTERM (session.py): make every logged row durable, the console captured
        so far written and every saved file current, then mark_preempting."""
        if self._h.finished:
            return
        if self._monitors is not None:
            self._monitors.flush()
        self._flush(timeout)
        if self._files is not None:  # the process is about to end without finish()
            self._files.flush()
        self.mark_preempting()

    # -- artifacts (artifacts.py) ----------------------------------------------------------------

    def log_artifact(self, artifact_or_path: Any, name: str | None = None,
                     type: str | None = None, aliases: Any = None, tags: Any = None) -> Any:
        """Log an artifact (or a file, folder or URI) as this run's output."""
        return run_artifacts.log_artifact(self._h, artifact_or_path, name, type, aliases, tags)

    def use_artifact(self, artifact_or_name: Any, type: str | None = None, aliases: Any = None,
                     use_as: str | None = None) -> Any:
        """Declare an artifact version ("name:alias", "project/name:v3", ...) as an input."""
        return run_artifacts.use_artifact(self._h, artifact_or_name, type, aliases, use_as)

    # -- charts (runlake.tables.plot) -------------------------------------------------------------

    @staticmethod
    def plot_table(vega_spec_name: str, data_table: Any, fields: dict[str, Any],
                   string_fields: dict[str, Any] | None = None, split_table: bool = False) -> Any:
        """A custom chart of a Table, to log: `run.log({"chart": run.plot_table(...)})`.
        Works the same in mode="disabled" (it builds a value; logging it is the no-op)."""
        from runlake.tables.plot import plot_table  # runlake.tables: off init()'s path

        return plot_table(vega_spec_name, data_table, fields, string_fields, split_table)

    # -- files and code (files.py, code.py) ----------------------------------------------------

    def save(self, glob_str: str | os.PathLike[str] | None = None,
             base_path: str | os.PathLike[str] | None = None,
             policy: Literal["live", "now", "end"] = "live") -> bool | list[str]:
        """Copy files (a path or glob, expanded now) into the run's files folder, `run.dir`.

        They land at their path relative to `base_path` (default: the working directory for
        a relative glob; for an absolute one, keeping one folder level). `policy`: "live"
        copies now and again whenever a file changes while the run lives, "now" once, "end"
        at finish. Returns the paths of the copies in `run.dir`. mode="disabled": [].

        >>> import runlake
        >>> with runlake.init(mode="disabled") as run:
        ...     run.save("model.pt", policy="now")
        []
        """
        return run_files.save(self._h, self._file_sync, glob_str, base_path, policy)

    def _file_sync(self) -> FileSync:
        with self._log_lock:  # one per run, whichever thread saves first
            if self._files is None:
                self._files = run_files.file_sync(self._h)
            return self._files

    def restore(self, name: str, run_path: str | None = None, replace: bool = False,
                root: str | None = None) -> IO[str] | None:
        """A saved file of this run (or of `run_path`, "entity/project/run_id"), fetched into
        `root` (default `run.dir`) unless it is there already and not `replace`; returned
        open for reading, or None if the run has no such file. mode="disabled": None."""
        return run_files.restore(self._h, name, run_path, replace, root)

    def log_code(self, root: str | None = ".", name: str | None = None,
                 include_fn: Callable[..., bool] | None = None,
                 exclude_fn: Callable[..., bool] | None = None) -> Artifact | None:
        """Log the source files under `root` as a "code" artifact (default name
        `source-<project>-<entry script>`); None if no file matched. See code.py for
        the default include (`*.py`, `requirements.txt`, `Dockerfile*`) and exclude
        (`wandb/`, `.wandb/`, and the store) rules. mode="disabled": None."""
        return run_code.log_code(self._h, root, name, include_fn, exclude_fn)

    def upsert_artifact(self, artifact_or_path: Any, name: str | None = None,
                        type: str | None = None, aliases: Any = None,
                        distributed_id: str | None = None) -> Any:
        """Add files to a version built by several processes (committed by finish_artifact)."""
        return run_artifacts.upsert_artifact(self._h, artifact_or_path, name, type, aliases,
                                             distributed_id)

    def finish_artifact(self, artifact_or_path: Any, name: str | None = None,
                        type: str | None = None, aliases: Any = None,
                        distributed_id: str | None = None) -> Any:
        """Commit the version upsert_artifact() calls with this distributed_id built."""
        return run_artifacts.finish_artifact(self._h, artifact_or_path, name, type, aliases,
                                             distributed_id)

    def link_artifact(self, artifact: Any, target_path: str, aliases: Any = None) -> None:
        """Link a logged artifact into a portfolio: "portfolio", "project/portfolio" or
        "entity/project/portfolio"."""
        run_artifacts.link_artifact(self._h, artifact, target_path, aliases)

    def log_model(self, path: Any, name: str | None = None, aliases: Any = None) -> None:
        """Log the files at `path` as a model artifact."""
        run_models.log_model(self._h, path, name, aliases)

    def use_model(self, name: str) -> str:
        """Download a logged model artifact ("name:alias") and return its path."""
        return run_models.use_model(self._h, name)

    def link_model(self, path: Any, registered_model_name: str, name: str | None = None,
                   aliases: Any = None) -> None:
        """Log a model artifact and link it to a registered model (project model-registry)."""
        run_models.link_model(self._h, path, registered_model_name, name, aliases)

    # -- alerts (alerts.py) --------------------------------------------------------------------

    def alert(self, title: str, text: str, level: str | AlertLevel | None = None,
              wait_duration: int | float | timedelta | None = None) -> None:
        """Raise an alert: recorded in the store, printed, and posted to the webhook if one
        is configured. A repeat of a title within `wait_duration` seconds (default 60) is
        suppressed. Does nothing more than check its arguments in mode="disabled".

        >>> import runlake
        >>> with runlake.init(mode="disabled") as run:
        ...     run.alert("Low accuracy", "accuracy 0.21 is below 0.3", level="WARN")
        """
        if self._alerts is None:
            with self._log_lock:
                if self._alerts is None:
                    self._alerts = Alerts(self._h)
        self._alerts.alert(title, text, level, wait_duration)

    # -- PyTorch (watch.py) --------------------------------------------------------------------

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients",
              log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
        """Hook PyTorch models to log histograms of their gradients (`gradients/<param>`),
        parameters (`parameters/<param>`) or both (`log="all"`) every `log_freq` batches, and
        with `log_graph=True` their module tree (`graph_<i>.json` in the run's files).
        ValueError for anything but a torch.nn.Module; needs the `torch` extra. In
        mode="disabled" it checks its arguments and hooks nothing."""
        if self._watcher is None:
            self._watcher = Watcher(self._h, self.log, self._summary)
        self._watcher.watch(models, criterion, log, log_freq, idx, log_graph)

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks of `models` (a model or a list), or of every watched model."""
        if self._watcher is not None:
            self._watcher.unwatch(models)

    # -- notebooks (card.py) -------------------------------------------------------------------

    def to_html(self, height: int = 420, hidden: bool = False) -> str:
        """A self-contained HTML card of the run: name, state, config, summary and SVG
        sparklines of its main metrics (no script, no external asset).

        >>> import runlake
        >>> with runlake.init(mode="disabled", name="<b>x</b>") as run:
        ...     "&lt;b&gt;x&lt;/b&gt;" in run.to_html()
        True
        """
        return card.to_html(self._h, self._summary, self._config, height, hidden)

    def display(self, height: int = 420, hidden: bool = False) -> bool:
        """Show `to_html()` in Jupyter; False (showing nothing) outside a notebook kernel.
        A disabled run's card has its name, config and summary, and no sparklines."""
        return card.display(self._h, self._summary, self._config, height, hidden)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None:
            self._stop(0)
        else:
            self._stop(1, error=error_line(exc_type, exc))
        return False

    def __repr__(self) -> str:
        return f"<runlake.Run {self.path} ({self._h.name})>"


def error_line(exc_type: type[BaseException], exc: BaseException | None) -> str:
    """The last line of the formatted exception (run.json `error`), as a traceback ends."""
    last = "".join(traceback.format_exception_only(exc_type, exc)).strip()
    return last.splitlines()[-1].strip() if last else exc_type.__name__


def _raise_first(errors: list[Exception]) -> None:
    more = f" ({len(errors) - 1} more refused)" if len(errors) > 1 else ""
    raise type(errors[0])(f"{errors[0]}{more}; nothing of this log() call was logged"
                          ) from errors[0]


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        index = getattr(step, "__index__", None)
        if isinstance(step, bool) or index is None:
            raise InvalidValueError(
                f"log() step must be an int, got {type(step).__name__} {step!r}: pass an "
                "integer step, or leave it out to use the run's own counter"
            )
        step = index()
    if not 0 <= step <= _MAX_STEP:
        raise InvalidValueError(
            f"log() step must be >= 0 and < 2**63 (an int64), got {step}: pass a "
            "non-negative step, or leave it out to use the run's own counter"
        )
    return int(step)


_MAX_STEP = 2**63 - 1  # `_step` is int64

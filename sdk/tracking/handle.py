"""`RunHandle`: the part of a live Run that its collaborators use, so that none of them
reaches into the Run (or imports it).

The Run makes one in `__init__` and keeps it current: `name` and `settings` change when
`run.name`, `run.notes`, `run.group` or `run.job_type` are set, `finished` and `detached`
when the run stops being this process's. Alerts, saved files, watch, artifacts, models,
code and the notebook card take it. It imports neither the Run nor them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from runlake.engine import urls
from runlake.errors import UsageError

if TYPE_CHECKING:
    from runlake.engine.buffer import HistoryBuffer
    from runlake.engine.layout import RunPaths
    from runlake.engine.meta import RunMeta
    from runlake.engine.writer import RunWriter
    from runlake.tracking.settings import Settings


class RunHandle:
    """Who a run is, where its files go, its log lock and step, and whether it is live."""

    __slots__ = ("id", "name", "settings", "paths", "log_lock", "finished", "detached",
                 "meta", "writer", "_buffer")

    def __init__(self, run_id: str, name: str, settings: Settings, paths: RunPaths | None,
                 buffer: HistoryBuffer) -> None:
        self.id = run_id
        self.name = name
        self.settings = settings
        self.paths = paths  # None in mode="disabled": the run writes nothing
        # log()'s lock: held to read or move the step, and to make a per-run helper once.
        self.log_lock = threading.RLock()
        self.finished = False  # finish() or detach() ran: every writing call refuses
        self.detached = False  # it was detach(): another process may own the run now
        self.meta: RunMeta | None = None  # run.json, from the start of a live run
        self.writer: RunWriter | None = None
        self._buffer = buffer

    @property
    def disabled(self) -> bool:
        return self.paths is None

    @property
    def entity(self) -> str:
        return self.settings.entity or ""

    @property
    def project(self) -> str:
        return self.settings.project or ""

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def base_url(self) -> str | None:
        return None if self.disabled else self.settings.base_url

    def url(self) -> str | None:
        """The run's dashboard link; None without a base URL (engine/urls.py)."""
        return urls.run_url(self.base_url, self.entity, self.project, self.id)

    @property
    def step(self) -> int:
        """The step the next committed row goes to."""
        return self._buffer.step

    def require_live(self, what: str) -> None:
        """UsageError unless the run is still this process's to write."""
        if self.finished:
            raise self.closed(what)

    def closed(self, what: str) -> UsageError:
        """The error for a call that needs the run live in this process."""
        if self.detached:
            return UsageError(
                f"run {self.id} was detached from this process; {what} needs it back: "
                f"runlake.init(id={self.id!r}, project={self.project!r}, resume='must')"
            )
        return UsageError(f"run {self.id} is finished; {what} needs a new runlake.init()")

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything logged so far is in the write-ahead log."""
        with self.log_lock:  # a log() in progress commits its row first
            pass
        return self.writer.flush(timeout) if self.writer is not None else True

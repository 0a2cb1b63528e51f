"""The public-API `Run`: one run as the read side sees it (wandb's `wandb.Api().run(...)`).

Metadata comes from the run index; history is read from the run's segments and, for a run
still being logged, from the rows already durable in its write-ahead log.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, Protocol

import pyarrow as pa

from runlake.errors import RunNotFoundError, UsageError
from runlake.engine.meta import RunMeta, RunState
from runlake.engine.times import iso

from . import history as _history
from . import system as _system
from runlake.engine import urls
from .filters import check_keys
from .index import loads



class Store(Protocol):
    """What a Run needs of the Api that found it (api.py imports this module, not back)."""

    base_url: str | None

    def _paths(self, entity: str, project: str, run_id: str) -> Any: ...

Format = Literal["pandas", "polars", "arrow", "records"]
_STREAMS = ("default", "system", "events")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return iso(value)


class Run:
    """A run in the store. Edit `name`, `tags`, `notes`, `group`, `config`, `summary`, then
    `update()` to persist; `delete()` removes the run and its files."""

    def __init__(self, api: Store, row: dict[str, Any]) -> None:
        self._api = api
        self.entity: str = row["entity"]
        self.project: str = row["project"]
        self.id: str = row["id"]
        self.name: str | None = row["display_name"] or row["name"]
        self.state: str | None = row["state"]
        self.tags: list[str] = list(row["tags"] or [])
        self.group: str | None = row["group"]
        self.job_type: str | None = row["job_type"]
        self.notes: str | None = row["notes"]
        self.created_at = _iso(row["created_at"])
        self.heartbeat_at = _iso(row["heartbeat_at"])
        self.exit_code: int | None = row["exit_code"]
        self.config: dict[str, Any] = loads(row["config_json"])
        self.summary: dict[str, Any] = loads(row["summary_json"])
        self.metrics: list[dict[str, Any]] = loads(row["metrics_json"]) or []
        self._paths = api._paths(self.entity, self.project, self.id)

    @property
    def display_name(self) -> str | None:
        return self.name

    @property
    def path(self) -> list[str]:
        """[entity, project, id], as wandb's public Run has it."""
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str | None:
        """`<base_url>/<entity>/<project>/runs/<id>` with `Api(base_url=...)` or
        $RUNLAKE_BASE_URL set; None otherwise (a local run has no link)."""
        return urls.run_url(self._api.base_url, self.entity, self.project, self.id)

    # -- history -------------------------------------------------------------------------------

    def history(
        self,
        samples: int | None = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
        format: Format | None = None,  # noqa: A002 - the documented name
    ) -> Any:
        """At most `samples` rows (None: every row), keeping each bucket's spikes.

        Unlike wandb's random sample, the rows kept always include the first and last row
        and, for each requested key, its minimum and maximum within each of `samples // 2`
        buckets along `x_axis`. `keys` keeps only rows where every requested key is present.
        Returned as pandas (default), or `format="polars" | "arrow" | "records"`.
        `stream="system"` (or wandb's "events") returns the system metrics instead, in time
        order (x axis `_timestamp` unless `x_axis` names another of its columns).
        """
        if stream not in _STREAMS:
            raise ValueError(
                f"stream must be 'default' (logged history) or 'system' (system metrics; "
                f"wandb calls it 'events'), got {stream!r}"
            )
        if samples is not None and (not isinstance(samples, int) or samples < 1):
            raise ValueError(f"samples must be a positive int or None, got {samples!r}")
        keys = check_keys(keys, "history")
        if stream != "default":
            return self._system_history(samples, keys, x_axis, format or ("pandas" if pandas else "records"))
        wanted = None if keys is None else list(dict.fromkeys([*keys, x_axis]))
        table = _history.read_table(self._paths, keys=wanted)
        if keys is not None:
            table = _history.history_rows_with_keys(table, list(keys), x_axis=x_axis)
        if samples is not None:
            table = _history.sample(table, samples, keys, x_axis=x_axis)
        return _convert(table, format or ("pandas" if pandas else "records"))

    def _system_history(self, samples: int | None, keys: list[str] | None, x_axis: str,
                        format: str) -> Any:  # noqa: A002
        if x_axis == "_step":  # the default: system samples have no step, only time
            x_axis = "_timestamp"
        wanted = None if keys is None else [*keys, x_axis]
        table = _system.read_table(self._paths, keys=wanted)
        if keys is not None:
            table = _system.rows_with_keys(table, list(dict.fromkeys([*keys, x_axis])))
        if samples is not None:
            table = _history.sample(table, samples, keys, x_axis=x_axis)
        return _convert(table, format)

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row as a dict, streamed page by page without loading the run.

        With `keys`, only rows where all of them are present, as wandb does. `max_step` is
        exclusive, as in wandb.
        """
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        keys = check_keys(keys, "scan_history")
        wanted = None if keys is None else list(dict.fromkeys(["_step", *keys]))
        last = None if max_step is None else max_step - 1
        for batch in _history.iter_batches(self._paths, keys=wanted, page_size=page_size,
                                           min_step=min_step, max_step=last):
            if keys is not None:
                batch = _history.history_rows_with_keys(pa.Table.from_batches([batch]), list(keys))
            yield from batch.to_pylist()

    def table(self, key: str, step: int | None = None,
              format: Format = "polars") -> Any:  # noqa: A002 - as history()'s
        """The Table logged under `key` at `step` (None: the last one logged), read from its
        Parquet file: polars by default, or `format="pandas" | "arrow" | "records"`. A chart
        (runlake.plot) gives its table. Media cells are references (docs/FORMAT.md)."""
        import pyarrow.parquet as pq

        from . import tables as _tables

        refs = _history.read_table(self._paths, keys=["_step", key])
        _, path = _tables.read_logged(self._paths, refs, key, step)
        return _convert(pq.read_table(path), format)

    # -- edits ---------------------------------------------------------------------------------

    def _require_not_live(self, action: str) -> None:
        if self.state == RunState.RUNNING:
            raise UsageError(
                f"run {'/'.join(self.path)} is still being logged; {action} it after it finishes"
            )

    def update(self) -> None:
        """Persist edits of name, tags, notes, group, config and summary to run.json."""
        self._require_not_live("update")
        meta = RunMeta.load(self._paths.meta_file)
        meta.update(
            name=self.name, display_name=self.name, tags=list(self.tags), notes=self.notes,
            group=self.group, config=dict(self.config), summary=dict(self.summary),
        )

    def delete(self) -> None:
        """Remove the run: its history, system metrics, metadata, write-ahead log and files."""
        self._require_not_live("delete")
        shutil.rmtree(self._paths.history_dir, ignore_errors=True)
        shutil.rmtree(self._paths.system_dir, ignore_errors=True)
        shutil.rmtree(self._paths.run_dir, ignore_errors=True)

    def files(self, names: list[str] | None = None, per_page: int = 50) -> list[Any]:
        """The run's saved files (`run.save`, `run.dir`) as `File`s sorted by name; with
        `names`, those of them that exist. `per_page` is accepted for wandb's signature: the
        listing is one local folder walk, not paged."""
        from .files import files

        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise ValueError(f"per_page must be a positive int, got {per_page!r}")
        return files(self._paths, names)

    def file(self, name: str) -> Any:
        """One saved file by its name in the run (e.g. "ckpt/model.pt"); RunNotFoundError
        (a LookupError) if the run has none."""
        from .files import file

        found = file(self._paths, name)
        if found is None:
            raise RunNotFoundError(f"run {'/'.join(self.path)} has no file {name!r}")
        return found

    def alerts(self) -> list[dict[str, Any]]:
        """The run's alerts, oldest first, as dicts: time (UTC datetime), step, level, title,
        text, wait_duration (seconds), suppressed (repeats of the title dropped just before)."""
        from .alerts import records

        return records(self._paths.alerts_file)

    def logged_artifacts(self) -> list[Any]:
        """The artifact versions this run logged (was the producer of)."""
        from runlake.artifacts.base import logged_by

        return logged_by(self._paths.root, self.entity, self.project, self.id)

    def used_artifacts(self) -> list[Any]:
        """The artifact versions this run used (was a consumer of)."""
        from runlake.artifacts.base import used_by

        return used_by(self._paths.root, self.entity, self.project, self.id)

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"


def _convert(table: pa.Table, format: str) -> Any:  # noqa: A002
    if format == "arrow":
        return table
    if format == "records":
        return table.to_pylist()
    if format == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if format == "pandas":
        try:
            import pandas  # noqa: F401 - an extra: runlake itself never needs it
        except ImportError:
            raise ImportError(
                "history() returns pandas by default, like wandb, and pandas is not installed: "
                "pip install 'runlake[pandas]', or pass format='polars' (or 'arrow', 'records')"
            ) from None
        return table.to_pandas()
    raise ValueError(f"format must be 'pandas', 'polars', 'arrow' or 'records', got {format!r}")

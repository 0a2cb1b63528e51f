"""`runlake.Api`: find runs, filter and order them, query many runs in SQL or polars, export.

    >>> import runlake
    >>> api = runlake.Api(root="/tmp/no-such-store")
    >>> api.projects()
    []
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import duckdb
import pyarrow as pa

from runlake.engine.errors import InvalidNameError, RunNotFoundError
from runlake.engine.layout import RunPaths, default_entity, history_glob, resolve_root, validate_name

from . import filters as _filters
from .index import RunIndex
from .public_run import Run


@dataclass(frozen=True)
class Project:
    entity: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.name}"


class Api:
    """The read side of a store (default: $RUNLAKE_DIR, else ./runlake)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_root(root)
        self.default_entity = default_entity()
        self._index = RunIndex(self.root)
        self._con = duckdb.connect()
        self._registered: pa.Table | None = None

    # -- runs --------------------------------------------------------------------------------

    def _runs_table(self) -> duckdb.DuckDBPyConnection:
        """The connection with `runs_index` registered, current with the run files."""
        table = self._index.table()
        if table is not self._registered:
            self._con.register("runs_index", table)
            self._registered = table
        return self._con

    def projects(self, entity: str | None = None) -> list[Project]:
        """The projects of an entity (every entity when None), by name."""
        where, params = ("TRUE", []) if entity is None else ("entity = ?", [validate_name("entity", entity)])
        rows = self._runs_table().execute(
            f"SELECT DISTINCT entity, project FROM runs_index WHERE {where} ORDER BY 1, 2", params
        ).fetchall()
        return [Project(e, p) for e, p in rows]

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "-created_at",
        per_page: int = 50,
    ) -> Runs:
        """The runs of `entity/project` (or `project`, default entity), lazily, in pages.

        `filters` are wandb's MongoDB-style dicts; `order` a field with a +/- prefix.
        """
        entity, project = self._project_path(path)
        if not any(p.name == project for p in self.projects(entity)):
            raise RunNotFoundError(f"project {entity}/{project} not found in store {self.root}")
        where, params = _filters.where_sql(filters)
        order_by, order_params = _filters.order_sql(order)
        return Runs(self, entity, project, where, params, order_by, order_params, per_page)

    def run(self, path: str) -> Run:
        """One run by `entity/project/run_id` (or `project/run_id`, default entity)."""
        parts = [p for p in str(path).split("/") if p]
        if len(parts) == 2:
            parts = [self.default_entity, *parts]
        if len(parts) != 3:
            raise InvalidNameError(
                f"run path {path!r} must be 'entity/project/run_id' or 'project/run_id'"
            )
        entity, project, run_id = (validate_name(k, v) for k, v in zip(("entity", "project", "run id"), parts))
        rows = self._select("entity = ? AND project = ? AND id = ?", [entity, project, run_id])
        if not rows:
            raise RunNotFoundError(f"run {entity}/{project}/{run_id} not found in store {self.root}")
        return Run(self, rows[0])

    def _project_path(self, path: str | None) -> tuple[str, str]:
        parts = [p for p in str(path or "").split("/") if p]
        if len(parts) == 1:
            parts = [self.default_entity, parts[0]]
        if len(parts) != 2:
            raise InvalidNameError(f"project path {path!r} must be 'entity/project' or 'project'")
        return validate_name("entity", parts[0]), validate_name("project", parts[1])

    def _select(self, where: str, params: list[Any], order: str = "id", limit: str = "") -> list[dict[str, Any]]:
        con = self._runs_table()
        cursor = con.execute(f"SELECT * FROM runs_index WHERE {where} ORDER BY {order} {limit}", params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _paths(self, entity: str, project: str, run_id: str) -> RunPaths:
        return RunPaths.of(self.root, entity, project, run_id)

    # -- many runs ---------------------------------------------------------------------------

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """DuckDB over the views `runs` (one row per run) and `history` (every row of every run).

        Convert the result with `.pl()`, `.df()` or `.arrow()`; pass values in `params`.
        """
        con = self._runs_table()
        self._define_views(con)
        return con.sql(query, params=params) if params is not None else con.sql(query)

    def _define_views(self, con: duckdb.DuckDBPyConnection) -> None:
        structure = {
            col: con.execute(
                f"SELECT coalesce(json_group_structure({col}::JSON), '\"JSON\"') FROM runs_index"
            ).fetchall()[0][0]
            for col in ("config_json", "summary_json")
        }
        con.execute(
            "CREATE OR REPLACE TEMP TABLE runs AS SELECT entity, project, id, name, display_name,"
            ' state, "group", job_type, tags, notes, created_at, heartbeat_at, finished_at,'
            " start_time, exit_code, error, host, pid, sweep_id,"
            " from_json(config_json::JSON, $1) AS config, from_json(summary_json::JSON, $2) AS summary,"
            " config_json::JSON AS config_json, summary_json::JSON AS summary_json FROM runs_index",
            [structure["config_json"], structure["summary_json"]],
        )
        from .frames import live_history

        live = live_history(self.root, self._live_runs())
        parquet = any((self.root / "history").glob("*/*/*/part-*.parquet"))
        parts = []
        if parquet:
            parts.append(
                "SELECT * FROM read_parquet(" + _literal(history_glob(self.root))
                + ", hive_partitioning = true, union_by_name = true)"
            )
        if live is not None:
            con.register("history_live", live)
            parts.append("SELECT * FROM history_live")
        if not parts:
            parts.append(
                "SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS project, NULL::VARCHAR AS run_id,"
                " NULL::BIGINT AS _step, NULL::DOUBLE AS _runtime, NULL::DOUBLE AS _timestamp"
                " WHERE false"
            )
        con.execute("CREATE OR REPLACE TEMP VIEW history AS " + " UNION ALL BY NAME ".join(parts))

    def _live_runs(self) -> list[RunPaths]:
        """Runs whose WAL may hold rows not yet in a segment."""
        runs_dir = self.root / "runs"
        found = []
        for wal in runs_dir.glob("entity=*/project=*/run_id=*/wal/*.arrows"):
            run_dir = wal.parent.parent
            entity, project, run_id = (p.name.split("=", 1)[1] for p in
                                       (run_dir.parent.parent, run_dir.parent, run_dir))
            paths = self._paths(entity, project, run_id)
            if paths not in found:
                found.append(paths)
        return found

    def history(
        self,
        path: str | None = None,
        keys: list[str] | None = None,
        filters: Mapping[str, Any] | None = None,
    ):  # -> polars.LazyFrame
        """A polars LazyFrame over the histories of the selected runs, with entity, project
        and run_id columns (all runs of the project, or those matching `filters`)."""
        from .frames import histories_lazy

        runs = self.runs(path, filters=filters, order="+created_at")
        return histories_lazy([self._paths(r.entity, r.project, r.id) for r in runs], keys)

    def export(self, path: str, dest: str | os.PathLike[str], format: str | None = None,
               filters: Mapping[str, Any] | None = None) -> Path:
        """Write the histories of a project's runs (or one run's) to Parquet or CSV."""
        from .export import export

        return export(self, path, Path(dest), format=format, filters=filters)


def _literal(text: str) -> str:
    # The store's own root path (not user text from a filter), quoted as an SQL literal:
    # DuckDB cannot take a parameter inside a view definition.
    return "'" + text.replace("'", "''") + "'"


class Runs:
    """A lazy, indexable, iterable selection of runs; pages are fetched on demand."""

    def __init__(self, api: Api, entity: str, project: str, where: str, params: list[Any],
                 order_by: str, order_params: list[Any], per_page: int) -> None:
        if per_page < 1:
            raise ValueError(f"per_page must be >= 1, got {per_page}")
        self._api = api
        self.entity, self.project = entity, project
        self._where = f"entity = ? AND project = ? AND ({where})"
        self._params = [entity, project, *params]
        self._order, self._order_params = order_by, order_params
        self.per_page = per_page
        self._pages: dict[int, list[Run]] = {}
        self._length: int | None = None

    def __len__(self) -> int:
        if self._length is None:
            con = self._api._runs_table()
            self._length = con.execute(
                f"SELECT count(*) FROM runs_index WHERE {self._where}", self._params
            ).fetchall()[0][0]
        return self._length

    def _page(self, n: int) -> list[Run]:
        page = self._pages.get(n)
        if page is None:
            rows = self._api._select(
                self._where, [*self._params, *self._order_params, self.per_page, n * self.per_page],
                order=self._order, limit="LIMIT ? OFFSET ?",
            )
            page = self._pages[n] = [Run(self._api, row) for row in rows]
        return page

    @overload
    def __getitem__(self, i: int) -> Run: ...
    @overload
    def __getitem__(self, i: slice) -> list[Run]: ...

    def __getitem__(self, i: int | slice) -> Run | list[Run]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        page = self._page(i // self.per_page) if i >= 0 else []
        if not 0 <= i % self.per_page < len(page) or i < 0:
            raise IndexError(f"run index {i} out of range")
        return page[i % self.per_page]

    def __iter__(self) -> Iterator[Run]:
        n = 0
        while True:
            page = self._page(n)
            yield from page
            if len(page) < self.per_page:
                return
            n += 1

    def __repr__(self) -> str:
        return f"<Runs {self.entity}/{self.project}>"

"""`runlake.Api`: find runs, filter and order them, query many runs in SQL or polars, export.

    >>> import runlake
    >>> api = runlake.Api(root="/tmp/no-such-store")
    >>> api.projects()
    []
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from runlake.engine import lock, recovery
from runlake.errors import Error, InvalidNameError, RunNotFoundError
from runlake.engine.layout import (
    PARTITION_KEYS,
    RunPaths,
    default_entity,
    default_project,
    is_valid_name,
    resolve_root,
    validate_name,
)
from runlake.engine.keys import claimed
from runlake.engine.meta import read_versioned
from runlake.engine.union import family, store_renames
from runlake.engine.objects import ArtifactNotFoundError, ArtifactStore, lineage_edges

from . import catalog as _catalog
from . import filters as _filters
from . import history as _history
from . import narrow as _narrow
from . import tables as _tables
from runlake.engine import urls
from .alerts import AlertIndex
from runlake.artifacts.base import ArtifactBase, load_artifact, parse_artifact_path
from .frames import histories_lazy, live_history
from .index import RunIndex
from .public_run import Run
from .segments import SegmentIndex, Segments, has_wal, segment_stamps
from .system import store_snapshot as system_snapshot


@dataclass(frozen=True, order=True)
class Project:
    entity: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.name}"


_LINEAGE = pa.schema([(c, pa.string()) for c in (
    "artifact_entity", "artifact_project", "artifact_name", "version", "type", "digest",
    "role", "run_entity", "run_project", "run_id", "use_as",
)])


class Api:
    """The read side of a store (default: $RUNLAKE_DIR, else ./runlake-store).

    Every call sees the store as it is on disk at that moment (run.json files and history
    segments are re-listed, only changed ones re-read); a `Runs` selection keeps the snapshot
    it was made from. One Api is one in-memory DuckDB connection, opened by the first query
that needs SQL (`sql()`, `runs()`): use it from one thread.

    A run whose writer died reads "crashed". Reading its history (`run()`, `sql()`,
    `history()`) also recovers it: its write-ahead log is compacted into Parquet and its
    run.json says "crashed" (engine/recovery.py). `recover=False` never writes to the store.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 recover: bool = True, base_url: str | None = None) -> None:
        self.root = resolve_root(root)
        # Runs link to a dashboard only when one is named (engine/urls.py): else `url` is None.
        self.base_url = urls.base_url(base_url)
        self._recovers = recover
        self.default_entity = default_entity()
        self._index = RunIndex(self.root)
        self._segments = SegmentIndex(self.root)
        self._alerts = AlertIndex(self.root)
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._registered: dict[str, pa.Table] = {}
        self._runs_view_of: pa.Table | None = None
        self._views: dict[str, str] = {}  # view -> the SQL it was last defined with
        # The segment index table the history view was last made from, its segment files and
        # the view's read_parquet parts (SQL naming every file: dear to rebuild per query).
        self._history_of: tuple[pa.Table, set[Path], list[str]] | None = None

    @property
    def _con(self) -> duckdb.DuckDBPyConnection:
        # Opened on first use: reading runs and histories with pyarrow/polars never needs it.
        if self._connection is None:
            self._connection = duckdb.connect()
        return self._connection

    def _register(self, name: str, table: pa.Table) -> duckdb.DuckDBPyConnection:
        if self._registered.get(name) is not table:
            self._con.register(name, table)
            self._registered[name] = table
        return self._con

    def _define(self, view: str, body: str) -> None:
        """CREATE the temp view unless it already stands for `body` (the same files)."""
        if self._views.get(view) != body:
            self._con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {body}")
            self._views[view] = body

    # -- runs --------------------------------------------------------------------------------

    def projects(self, entity: str | None = None) -> list[Project]:
        """The projects of an entity (every entity when None), by name."""
        if entity is not None:
            validate_name("entity", entity)
        return _projects_of(self._index.table(), entity)

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "-created_at",
        per_page: int = 50,
    ) -> Runs:
        """The runs of `entity/project` (or `project`, default entity; None: the default
        project, $RUNLAKE_PROJECT or "uncategorized"), lazily, in pages.

        `filters` are wandb's MongoDB-style dicts; `order` a field with a +/- prefix.
        """
        entity, project = self._project_path(path)
        where, params = _filters.where_sql(filters)
        order_by, order_params = _filters.order_sql(order)
        table = self._index.table()
        if Project(entity, project) not in _projects_of(table, entity):
            raise RunNotFoundError(f"project {entity}/{project} not found in store {self.root}")
        return Runs(self, table, entity, project, where, params, order_by, order_params, per_page)

    def run(self, path: str) -> Run:
        """One run by `entity/project/run_id` (or `project/run_id`, default entity)."""
        parts = [p for p in str(path).split("/") if p]
        if len(parts) == 2:
            parts = [self.default_entity, *parts]
        if len(parts) != 3:
            raise InvalidNameError(
                f"run path {path!r} must be 'entity/project/run_id' or 'project/run_id'"
            )
        entity, project, run_id = (
            validate_name(k, v) for k, v in zip(("entity", "project", "run id"), parts)
        )
        paths = self._paths(entity, project, run_id)
        self._recover_dead([paths])
        # Its own run.json, by the layout: not a refresh of every run's index row.
        row = self._index.row(paths)
        if row is None:
            if paths.meta_file.exists():  # a newer format_version: say so, not "not found"
                read_versioned(paths.meta_file)
            raise RunNotFoundError(f"run {entity}/{project}/{run_id} not found in store {self.root}")
        return Run(self, row)

    def _project_path(self, path: str | None) -> tuple[str, str]:
        # None is the default project, as wandb.Api().runs() takes it from the settings.
        parts = [p for p in str(path or default_project()).split("/") if p]
        if len(parts) == 1:
            parts = [self.default_entity, parts[0]]
        if len(parts) != 2:
            raise InvalidNameError(f"project path {path!r} must be 'entity/project' or 'project'")
        return validate_name("entity", parts[0]), validate_name("project", parts[1])

    def _select(self, table: pa.Table, where: str, params: list[Any], order: str = "id",
                limit: str = "") -> list[dict[str, Any]]:
        """Rows of the run index `table`; `where` and `order` come from filters.py only."""
        con = self._register("runs_index", table)
        cursor = con.execute(
            f"SELECT * FROM runs_index WHERE {where} ORDER BY {order} {limit}", params
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _paths(self, entity: str, project: str, run_id: str) -> RunPaths:
        return RunPaths.of(self.root, entity, project, run_id)

    def _recover_dead(self, runs: Iterable[RunPaths]) -> bool:
        """Recover the runs whose writer died (engine/recovery.py); whether any changed.

        Best effort: a store this process cannot write, or a run another process is
        recovering right now, is read as it is (its WAL files included).
        """
        changed = False
        if not self._recovers:
            return changed
        for paths in runs:
            try:
                if not lock.is_live(paths):
                    changed = recovery.recover_run(paths) or changed
            except (OSError, Error, pa.ArrowException):
                continue
        return changed

    # -- many runs ---------------------------------------------------------------------------

    def artifact(self, name: str, type: str | None = None) -> ArtifactBase:
        """An artifact version by `[entity/]project/name[:version-or-alias]` (default latest);
        `name:alias` alone uses the default entity and project."""
        entity, project, art, ref = parse_artifact_path(name, self.default_entity)
        found = load_artifact(self.root, entity, project, art, ref)
        if type is not None and found.type != type:
            raise InvalidNameError(f"artifact {found.qualified_name} has type {found.type!r}, not {type!r}")
        return found

    def artifact_versions(self, type_name: str, name: str) -> list[ArtifactBase]:
        """Every version of `[entity/]project/name` whose type is `type_name`, oldest first."""
        entity, project, art, _ = parse_artifact_path(name.partition(":")[0], self.default_entity)
        store = ArtifactStore(self.root)
        versions = store.versions(entity, project, art)
        if not versions:
            raise ArtifactNotFoundError(f"artifact {entity}/{project}/{art} does not exist")
        found = [load_artifact(self.root, entity, project, art, f"v{v}") for v in versions]
        return [a for a in found if a.type == type_name]

    def artifacts(self, type_name: str, name: str) -> list[ArtifactBase]:
        """wandb's newer name for `artifact_versions`."""
        return self.artifact_versions(type_name, name)

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """DuckDB over the views `runs` (one row per run), `history` (every row of every run),
        `system` (every system-metrics sample of every run: entity, project, run_id,
        `_timestamp`, `_runtime` and `system.*` columns), `lineage` (one row per artifact
        version and run that produced or used it: role "producer" or "consumer") and `alerts`
        (one row per `run.alert()` that fired: entity, project, run_id, time, step, level,
        title, text, wait_duration, suppressed).

        `table('<key>')` in the query stands for every Table logged under that key, in every
        run and step: the table's columns after entity, project, run_id and _step
        (`SELECT run_id, _step, avg(score) FROM table('preds') GROUP BY ALL`; a chart logged
        from runlake.tables.plot counts as its table).

        Convert the result with `.pl()`, `.df()` or `.arrow()`; pass values in `params`.
        """
        # Each view is refreshed (its files re-listed, changed ones re-read) only when the
        # query names it; `table('k')` reads the history view to find its tables.
        named = _VIEWS
        original = query
        if isinstance(query, str):
            if _tables.table_calls(query):
                self._define_history(self._segments.snapshot())
                query = _tables.bind(self._con, self._sql_root, query)
            named = _named_views(query)
        narrowed = None
        if "history" in named and isinstance(query, str) and query is original:
            narrowed = _narrow.narrow(self._con, query, params, "history_of_runs")
        if narrowed is not None and not self._define_history_of(narrowed.run_ids):
            narrowed = None  # (first: it may recover dead runs, which changes run.json)
        if narrowed is None and "history" in named:
            self._define_history(self._segments.snapshot())
        self._define_others(named)
        if narrowed is not None:
            try:
                return self._run(narrowed.query, params)
            except duckdb.BinderException:
                # A column only other runs have (NULL over the whole store), or a type they
                # widen: the whole store's view binds it as it always did.
                self._define_history(self._segments.snapshot())
        return self._run(query, params)

    def _run(self, query: str, params: Any) -> duckdb.DuckDBPyRelation:
        return self._con.sql(query, params=params) if params is not None else self._con.sql(query)

    def _define_others(self, named: frozenset[str]) -> None:
        if "system" in named:
            self._define_system()
        if "runs" in named:
            self._define_runs(self._index.table())
        if "lineage" in named:
            self._register("lineage", pa.Table.from_pylist(lineage_edges(self.root), schema=_LINEAGE))
        if "alerts" in named:
            self._register("alerts", self._alerts.table())

    def _define_runs(self, table: pa.Table) -> None:
        if self._runs_view_of is table:
            return
        con = self._register("runs_index", table)
        # The structs' types are inferred from every run's values (a key that is an int in one
        # run and a float in another is a DOUBLE); config_json/summary_json keep the JSON.
        structure = [
            con.execute(
                f"SELECT coalesce(json_group_structure({col}::JSON), '\"JSON\"') FROM runs_index"
            ).fetchall()[0][0]
            for col in ("config_json", "summary_json")
        ]
        structure = [_without_case_twins(x) for x in structure]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE runs AS SELECT entity, project, id, name, display_name,"
            ' state, "group", job_type, tags, notes, created_at, heartbeat_at, finished_at,'
            " start_time, exit_code, error, host, pid, sweep_id,"
            " from_json(config_json::JSON, $1) AS config, from_json(summary_json::JSON, $2) AS summary,"
            " config_json::JSON AS config_json, summary_json::JSON AS summary_json FROM runs_index",
            structure,
        )
        self._runs_view_of = table

    def _define_history(self, segments: Segments) -> None:
        if self._recover_dead(self._paths(*key) for key in segments.live):
            segments = self._segments.snapshot()
        # The segment index returns the same table while no segment changed: group once.
        if self._history_of is None or self._history_of[0] is not segments.table:
            groups = segments.groups()
            renames = store_renames([schema for schema, _ in groups], claimed(self.root))
            self._history_of = (segments.table, {f for _, group in groups for f in group},
                                _history_parts([(r, self._for_sql(g))
                                                for r, (_, g) in zip(renames, groups)]))
        _, known, parts = self._history_of
        parts = list(parts)
        # Live runs' WAL rows change with every frame: read again each time.
        live = live_history([self._paths(*key) for key in segments.live],
                            known) if segments.live else None
        if live is not None:
            self._register("history_live", live)
            parts.append("SELECT * FROM history_live")
        self._define("history", " UNION ALL BY NAME ".join(parts or [_NO_HISTORY]))

    def _define_history_of(self, run_ids: frozenset[str]) -> bool:
        """The view `history_of_runs`: the rows of the runs with these ids (any entity or
        project), found by their folders' names: nothing else of the store is listed. False
        (no view) when those runs' files would read otherwise in the whole store's view."""
        runs = [self._paths(*key) for key in _runs_with_ids(self.root, run_ids)]
        live = [p for p in runs if has_wal(str(p.wal_dir))]
        if self._recover_dead(live):
            live = [p for p in runs if has_wal(str(p.wal_dir))]
        # WAL first, then segments: as in the segment index's listing (query/segments.py).
        files = [p.history_dir / name for p in runs
                 for name, _ in sorted(segment_stamps(str(p.history_dir)))]
        if not self._reads_as_the_store(files):
            return False
        parts = [_read_parquet((self._for_sql(files), True))] if files else []
        rows = live_history(live, set(files)) if live else None
        if rows is not None:
            self._register("history_of_runs_live", rows)
            parts.append("SELECT * FROM history_of_runs_live")
        self._define("history_of_runs", " UNION ALL BY NAME ".join(parts or [_NO_HISTORY]))
        return True

    def _reads_as_the_store(self, files: list[Path]) -> bool:
        """Whether these files' columns read under their own names in the whole store's view:
        each bare column of its claimed family (keys/claims.jsonl), each `key@family` of
        that family. A run written before key families were store-wide may not."""
        claims = claimed(self.root)
        for f in files:
            try:
                schema = pq.read_schema(f)
            except (OSError, pa.ArrowInvalid):
                return False
            for field in schema:
                if field.name in _history.BASE or pa.types.is_null(field.type):
                    continue
                fam = family(field.type)
                if not (claims.get(field.name.lower()) == fam or field.name.endswith("@" + fam)):
                    return False
                if field.name.lower() in PARTITION_KEYS:
                    return False
        return True

    @functools.cached_property
    def _sql_root(self) -> Path:
        """The store root as DuckDB is given it. DuckDB reads `*`, `?` and `[` in a listed
        path as a pattern (a store at /data/runs* also read /data/runs2's files), so a root
        holding one is reached through a link, made for this Api, whose path holds none."""
        if not _GLOB.search(str(self.root)):
            return self.root
        folder = tempfile.mkdtemp(prefix="runlake-sql-")
        link = Path(folder) / "store"
        os.symlink(self.root.absolute(), link, target_is_directory=True)
        weakref.finalize(self, shutil.rmtree, folder, True)  # the link only, never the store
        return link

    def _for_sql(self, files: list[Path]) -> list[Path]:
        if self._sql_root is self.root:
            return files
        return [self._sql_root / f.relative_to(self.root) for f in files]

    def _define_system(self) -> None:
        files, live = system_snapshot(self.root)
        parts = [_read_parquet((self._for_sql(files), True))] if files else []
        if live is not None:
            self._register("system_live", live)
            parts.append("SELECT * FROM system_live")
        if not parts:
            parts.append(
                "SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS project, NULL::VARCHAR AS run_id,"
                " NULL::DOUBLE AS _timestamp, NULL::DOUBLE AS _runtime WHERE false"
            )
        self._define("system", " UNION ALL BY NAME ".join(parts))

    def history(
        self,
        path: str | None = None,
        keys: list[str] | None = None,
        filters: Mapping[str, Any] | None = None,
    ):  # -> polars.LazyFrame
        """A polars LazyFrame over the histories of the selected runs, with entity, project
        and run_id columns (all runs of the project, or those matching `filters`)."""
        keys = _filters.check_keys(keys, "Api.history")
        runs = self.runs(path, filters=filters, order="+created_at", per_page=1000)
        selected = {(r.entity, r.project, r.id) for r in runs}
        segments = self._segments.snapshot()
        live = [self._paths(*key) for key in segments.live if key in selected]
        if self._recover_dead(live):
            segments = self._segments.snapshot()
            live = [self._paths(*key) for key in segments.live if key in selected]
        groups = segments.groups()  # the whole store's: a name's family is the store's
        renames = store_renames([schema for schema, _ in groups], claimed(self.root))
        return histories_lazy(segments.files(selected), live, keys,
                              {schema: r for (schema, _), r in zip(groups, renames) if r})

    def export(self, path: str, dest: str | os.PathLike[str], format: str | None = None,
               filters: Mapping[str, Any] | None = None) -> Path:
        """Write the histories of a project's runs (or one run's) to Parquet or CSV."""
        from .export import export

        return export(self, path, Path(dest), format=format, filters=filters)


# A query binds one footer per group of same-schema segments; past this many groups, the
# smallest are read together with union_by_name (which reads every footer of those).
MAX_SCHEMA_GROUPS = 16


def _groups(groups: list[list[Path]]) -> list[tuple[list[Path], bool]]:
    """(files, union_by_name) for each read_parquet of the `history` view."""
    if len(groups) <= MAX_SCHEMA_GROUPS:
        return [(g, False) for g in groups]
    rest = [f for g in groups[MAX_SCHEMA_GROUPS - 1:] for f in g]
    return [(g, False) for g in groups[:MAX_SCHEMA_GROUPS - 1]] + [(rest, True)]


def _history_parts(groups: list[tuple[dict[str, str], list[Path]]]) -> list[str]:
    """The view's parts: the groups that read as they are (every group of a store written
    since key families are store-wide), and one union_by_name read per set of renames,
    whose files hold each name in one family (engine/union.store_renames)."""
    plain = [g for r, g in groups if not r]
    renamed: dict[tuple[tuple[str, str], ...], list[Path]] = {}
    for r, g in groups:
        if r:
            renamed.setdefault(tuple(sorted(r.items())), []).extend(g)
    return ([_read_parquet(files) for files in _groups(plain)]
            + [_read_renamed(files, dict(r)) for r, files in renamed.items()])


def _read_renamed(files: list[Path], renames: dict[str, str]) -> str:
    """A read of files whose columns in `renames` are read under the new names. A file
    column named like a partition hides behind it in a Hive read, so those files are read
    without partitioning and the partitions taken from each file's path."""
    listed = "[" + ", ".join(_literal(str(f)) for f in files) + "]"
    pairs = ", ".join(f"{_ident(a)} AS {_ident(b)}" for a, b in renames.items())
    file = _ident(_FILE_COLUMN)
    partitions = ", ".join(
        f"regexp_extract({file}, '/entity=([^/]*)/project=([^/]*)/run_id=([^/]*)/[^/]*$', {i})"
        f" AS {k}" for i, k in enumerate(("entity", "project", "run_id"), 1))
    return (f"SELECT * EXCLUDE ({file}) RENAME ({pairs}), {partitions} FROM read_parquet("
            f"{listed}, hive_partitioning = false, union_by_name = true,"
            f" filename = {_literal(_FILE_COLUMN)})")


# The path column of a renamed read: a name no logged key can have (log() refuses NUL).
_FILE_COLUMN = "runlake\x00file"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _without_case_twins(structure: str) -> str:
    """A JSON structure for from_json() with, at every level, only the first spelling of keys
    that differ only in case (`LR` in one run, `lr` in another): DuckDB's struct keys ignore
    case, and a structure holding both failed every query. config_json/summary_json keep both."""

    def dedupe(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        seen: set[str] = set()
        for key, value in pairs:
            if key.lower() not in seen:
                seen.add(key.lower())
                out[key] = value
        return out

    return json.dumps(json.loads(structure, object_pairs_hook=dedupe))


def _read_parquet(group: tuple[list[Path], bool]) -> str:
    files, by_name = group
    # The paths are the store root (quoted) and names validated by layout.validate_name:
    # DuckDB takes no parameters in a view's definition.
    listed = "[" + ", ".join(_literal(str(f)) for f in files) + "]"
    return (
        f"SELECT * FROM read_parquet({listed}, hive_partitioning = true,"
        " hive_types = {'entity': VARCHAR, 'project': VARCHAR, 'run_id': VARCHAR}"
        + (", union_by_name = true)" if by_name else ")")
    )


_VIEWS = frozenset({"runs", "history", "system", "lineage", "alerts"})

_GLOB = re.compile(r"[*?\[\]{}]")

_NO_HISTORY = ("SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS project, NULL::VARCHAR AS run_id,"
               " NULL::BIGINT AS _step, NULL::DOUBLE AS _runtime, NULL::DOUBLE AS _timestamp"
               " WHERE false")


def _runs_with_ids(root: Path, run_ids: frozenset[str]) -> list[tuple[str, str, str]]:
    """(entity, project, run_id) of every run folder, under history/ or runs/, with one of
    these ids: a listing of the entity and project folders and a stat per id, never of runs."""
    ids = sorted(r for r in run_ids if is_valid_name(r))  # an id never reaches a path unchecked
    found: set[tuple[str, str, str]] = set()
    for top in (root / "history", root / "runs"):
        for e in _catalog.entries(str(top), "entity="):
            if not is_valid_name(entity := e.name[7:]):
                continue
            for p in _catalog.entries(e.path, "project="):
                if not is_valid_name(project := p.name[8:]):
                    continue
                found.update((entity, project, r) for r in ids
                             if os.path.isdir(os.path.join(p.path, f"run_id={r}")))
    return sorted(found)


# Statements that look tables up in the catalog rather than by name in the query.
_CATALOG = re.compile(r"\b(show|describe|summarize|pragma|information_schema|duckdb_\w+|"
                      r"sqlite_master|pg_\w+|attach|export)\b", re.IGNORECASE)
_INTERNAL = re.compile(r"(runs_index|history_live|history_of_runs(_live)?|system_live|table:\d+(_index)?)")


# A parameter (`?`, `$1`, `$name`) outside literals, quoted names and comments; the other
# alternatives are matched only to be skipped.
_PARAMETER = re.compile(r"""(?P<p>\?|\$\d+|\$[A-Za-z_]\w*)|'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*"""
                        r"""|/\*.*?\*/|\$\$.*?\$\$""", re.DOTALL)


def _unparametrized(query: str) -> str:
    """The query with each parameter a NULL: DuckDB's parser names no tables of a query with
    parameters (it tries to bind them), and a NULL stands wherever a parameter may."""
    return _PARAMETER.sub(lambda m: "NULL" if m.group("p") else m.group(0), query)


def _named_views(query: str) -> frozenset[str]:
    """The views of `sql()` that `query` may read: those DuckDB's parser finds among its
    tables (quoted, any case, schema-qualified, in a CTE or subquery). When unsure, all of
    them: the parser fails (several statements, a file it cannot open), the query names a
    table that is not one of ours (a view of the user's may read ours), or it reads the
    catalog (SHOW TABLES)."""
    if _CATALOG.search(query):
        return _VIEWS
    try:
        names = {n.lower() for n in duckdb.get_table_names(_unparametrized(query), qualified=False)}
    except (duckdb.Error, RuntimeError):
        return _VIEWS
    if any(n not in _VIEWS and not _INTERNAL.fullmatch(n) for n in names):
        return _VIEWS
    return _VIEWS.intersection(names)


def _projects_of(table: pa.Table, entity: str | None) -> list[Project]:
    # Not Table.group_by: it loads pyarrow's dataset module, which imports pandas.
    pairs = set(zip(table.column("entity").to_pylist(), table.column("project").to_pylist()))
    return sorted(Project(e, p) for e, p in pairs if entity is None or e == entity)


def _literal(text: str) -> str:
    # The store's own root path (not user text from a filter), quoted as an SQL literal:
    # DuckDB cannot take a parameter inside a view definition.
    return "'" + text.replace("'", "''") + "'"


class Runs:
    """A lazy, indexable, iterable selection of runs; pages are fetched on demand."""

    def __init__(self, api: Api, table: pa.Table, entity: str, project: str, where: str,
                 params: list[Any], order_by: str, order_params: list[Any], per_page: int) -> None:
        if per_page < 1:
            raise ValueError(f"per_page must be >= 1, got {per_page}")
        self._api, self._table = api, table
        self.entity, self.project = entity, project
        self._where = f"entity = ? AND project = ? AND ({where})"
        self._params = [entity, project, *params]
        self._order, self._order_params = order_by, order_params
        self.per_page = per_page
        self._pages: dict[int, list[Run]] = {}
        self._length: int | None = None

    def __len__(self) -> int:
        if self._length is None:
            con = self._api._register("runs_index", self._table)
            self._length = con.execute(
                f"SELECT count(*) FROM runs_index WHERE {self._where}", self._params
            ).fetchall()[0][0]
        return self._length

    def _page(self, n: int) -> list[Run]:
        page = self._pages.get(n)
        if page is None:
            rows = self._api._select(
                self._table, self._where, [*self._params, *self._order_params, self.per_page, n * self.per_page],
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
            if all(v is None or v >= 0 for v in (i.start, i.stop)) and (i.step or 1) > 0:
                return list(itertools.islice(self, i.start, i.stop, i.step))  # no count needed
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

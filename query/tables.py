"""Logged tables on the read side: `table('<key>')` in `Api.sql()`, and `Run.table(key)`.

A logged Table is a Parquet file in its run's files directory; the history column of its key
holds a reference to it (`_type` "table-file", `path`), a chart's reference names its table
in `table_path` (docs/FORMAT.md, "Tables and charts"). So the tables of a key are found
through the `history` view (segments and the WAL of live runs alike), and one query reads
them all with `read_parquet(union_by_name)`, joined to the run and step of each reference.

Nothing the user writes reaches SQL text: the key must name an existing history column (it
is then quoted as an identifier), and file paths are the store's own, checked part by part.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from runlake.errors import InvalidNameError, InvalidValueError, RunNotFoundError
from runlake.engine.files import inside
from runlake.engine.layout import RunPaths, is_valid_name

if TYPE_CHECKING:
    import duckdb

TABLE_TYPE = "table-file"
CHART_TYPE = "custom-chart"
RUN_COLUMNS = ("entity", "project", "run_id", "_step")

# `table('key')` outside string literals, quoted identifiers and comments: the alternatives
# other than the first are matched only to be skipped.
_TOKENS = re.compile(
    r"""(?P<call>(?<![\w."$])table\s*\(\s*'(?P<key>(?:[^']|'')*)'\s*\))"""
    r"""|'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$\$.*?\$\$""",
    re.IGNORECASE | re.DOTALL,
)


def table_calls(sql: str) -> list[tuple[int, int, str]]:
    """(start, end, key) of each `table('key')` in `sql` (a '' in the key is one ')."""
    return [(m.start(), m.end(), m.group("key").replace("''", "'"))
            for m in _TOKENS.finditer(sql) if m.group("call")]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_of(files_dir: Path, path: Any) -> Path:
    """The file a reference's `path` names in `files_dir`: each part must be a safe name (as
    the media store makes them), and its folder must not resolve outside (a symlink)."""
    if not isinstance(path, str) or not all(is_valid_name(p) for p in path.split("/")):
        raise InvalidNameError(f"unsafe table file path {path!r} in a history reference")
    target = files_dir.joinpath(*path.split("/"))
    inside(files_dir, target.parent)
    return target


def _ref_expression(con: duckdb.DuckDBPyConnection, key: str) -> str:
    """SQL for the table path of each row's reference in column `key`, which must exist."""
    columns = [row[0] for row in con.execute("DESCRIBE history").fetchall()]
    if key not in columns:
        raise RunNotFoundError(f"no logged table under key {key!r}: no run in the store logged it")
    column = quote_identifier(key)  # an existing column's name, quoted: never user SQL
    field = con.sql(f"SELECT {column} FROM history LIMIT 0").to_arrow_table().schema.field(0)
    if not pa.types.is_struct(field.type) or "_type" not in field.type.names:
        raise InvalidValueError(
            f"key {key!r} holds {field.type} values, not logged tables (runlake.Table)"
        )
    names = field.type.names
    paths = []
    if "path" in names:
        paths.append(f"WHEN {column}._type = '{TABLE_TYPE}' THEN {column}.path")
    if "table_path" in names:
        paths.append(f"WHEN {column}._type = '{CHART_TYPE}' THEN {column}.table_path")
    if not paths:
        raise InvalidValueError(f"key {key!r} holds references without a file path")
    return f"CASE {' '.join(paths)} END"


def table_refs(con: duckdb.DuckDBPyConnection, root: Path, key: str) -> list[tuple[Any, ...]]:
    """(entity, project, run_id, _step, absolute file) of every table logged under `key`,
    in the store's `history` view (which `con` must have)."""
    expression = _ref_expression(con, key)
    rows = con.execute(
        f"SELECT entity, project, run_id, _step, {expression} AS path FROM history"
        " WHERE path IS NOT NULL ORDER BY entity, project, run_id, _step"
    ).fetchall()
    out = []
    for entity, project, run_id, step, path in rows:
        files = RunPaths.of(root, entity, project, run_id).files_dir
        out.append((entity, project, run_id, step, str(file_of(files, path))))
    return out


def define_view(con: duckdb.DuckDBPyConnection, root: Path, key: str, view: str) -> None:
    """Create the temp view `view`: the rows of every table logged under `key`, with the
    entity, project, run_id and _step of the reference, across runs and steps.

    A reference whose file is not on disk (a run deleted by hand) is left out."""
    refs = [r for r in table_refs(con, root, key) if Path(r[4]).is_file()]
    index_name = f"{view}_index"
    con.register(index_name, pa.table({
        "entity": pa.array([r[0] for r in refs], pa.string()),
        "project": pa.array([r[1] for r in refs], pa.string()),
        "run_id": pa.array([r[2] for r in refs], pa.string()),
        "_step": pa.array([r[3] for r in refs], pa.int64()),
        "__file": pa.array([r[4] for r in refs], pa.string()),
    }))
    files = sorted({r[4] for r in refs})
    if not files:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_identifier(view)} AS SELECT "
                    f"entity, project, run_id, _step FROM {quote_identifier(index_name)}")
        return
    # File paths are the store's (root + validated names + checked parts), quoted as
    # literals: a view's definition takes no parameters.
    listed = "[" + ", ".join(_literal(f) for f in files) + "]"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_identifier(view)} AS SELECT i.entity, i.project,"
        f" i.run_id, i._step, t.* EXCLUDE (__file) FROM read_parquet({listed},"
        " union_by_name = true, hive_partitioning = false, filename = '__file') t"
        f" JOIN {quote_identifier(index_name)} i USING (__file)"
    )


def bind(con: duckdb.DuckDBPyConnection, root: Path, sql: str) -> str:
    """`sql` with each `table('key')` replaced by a view over that key's logged tables."""
    calls = table_calls(sql)
    if not calls:
        return sql
    views: dict[str, str] = {}
    out, at = [], 0
    for start, end, key in calls:
        if key not in views:
            views[key] = f"table:{len(views)}"
            define_view(con, root, key, views[key])
        out += [sql[at:start], quote_identifier(views[key])]
        at = end
    return "".join(out) + sql[at:]


def read_logged(paths: RunPaths, refs: pa.Table, key: str, step: int | None) -> tuple[int, Path]:
    """The step and file of the table logged under `key` at `step` (None: the last one),
    from a run's history `refs` (columns `_step` and `key`)."""
    if key not in refs.column_names:
        raise RunNotFoundError(f"run {paths.run_id} logged no key {key!r}")
    column = refs.column(key)
    if not pa.types.is_struct(column.type) or "_type" not in column.type.names:
        raise InvalidValueError(f"key {key!r} of run {paths.run_id} holds {column.type}, not tables")
    found = []
    for s, ref in zip(refs.column("_step").to_pylist(), column.to_pylist()):
        if ref is None:
            continue
        path = ref.get("path") if ref["_type"] == TABLE_TYPE else (
            ref.get("table_path") if ref["_type"] == CHART_TYPE else None)
        if path is not None:
            found.append((s, path))
    if not found:
        raise RunNotFoundError(f"run {paths.run_id} logged no table under {key!r}")
    if step is None:
        s, path = found[-1]
    else:
        at = [f for f in found if f[0] == step]
        if not at:
            raise RunNotFoundError(
                f"run {paths.run_id} logged no table under {key!r} at step {step}; "
                f"it did at steps {[f[0] for f in found]}"
            )
        s, path = at[0]
    return s, file_of(paths.files_dir, path)

"""A DuckDB view of a store: `history` over every segment, `runs` over every run.json.

The per-run files are the source of truth; these are views over them, built per connection,
so a query always sees what is on disk now. (The query module grows this into the indexed
catalog; the views and their column names are part of docs/FORMAT.md.)
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from .layout import history_glob, meta_glob


def connect(root: Path, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the views `history` and `runs` over `root`."""
    con = con or duckdb.connect()
    has_history = any((root / "history").glob("*/*/*/*.parquet"))
    has_runs = any((root / "runs").glob("*/*/*/run.json"))
    if has_history:
        con.execute(
            "CREATE OR REPLACE VIEW history AS SELECT * FROM read_parquet("
            f"{_literal(history_glob(root))}, hive_partitioning = true, union_by_name = true)"
        )
    else:
        con.execute(
            "CREATE OR REPLACE VIEW history AS SELECT NULL::VARCHAR AS entity, "
            "NULL::VARCHAR AS project, NULL::VARCHAR AS run_id, NULL::BIGINT AS _step, "
            "NULL::DOUBLE AS _runtime, NULL::DOUBLE AS _timestamp WHERE false"
        )
    if has_runs:
        con.execute(
            "CREATE OR REPLACE VIEW runs AS SELECT * FROM read_json("
            f"{_literal(meta_glob(root))}, format = 'auto', union_by_name = true, "
            "maximum_object_size = 268435456)"
        )
    else:
        con.execute(
            "CREATE OR REPLACE VIEW runs AS SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS entity, "
            "NULL::VARCHAR AS project, NULL::VARCHAR AS name, NULL::VARCHAR AS state WHERE false"
        )
    return con


def _literal(path: str) -> str:
    # DuckDB cannot bind a parameter inside a view definition; the path is the store's own
    # root (not user text from a filter), quoted as an SQL string literal.
    return "'" + path.replace("'", "''") + "'"

"""runlake's read side: queries over what the engine wrote, through docs/FORMAT.md.

It reads only the documented on-disk format (it never imports the SDK). The views are the
engine's catalog: `history` (every run's history, with entity/project/run_id columns) and
`runs` (one row per run.json).

    >>> import runlake.query
    >>> runlake.query.sql("SELECT count(*) FROM runs", root="/tmp/empty-store").fetchall()
    [(0,)]
"""

from __future__ import annotations

import os
from typing import Any

import duckdb

from runlake.engine import catalog
from runlake.engine.layout import resolve_root

__all__ = ["connect", "sql"]


def connect(root: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the `history` and `runs` views over the store."""
    return catalog.connect(resolve_root(root))


def sql(query: str, params: Any = None, *, root: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyRelation:
    """Run SQL over the store's views; values go in `params`, never into the SQL text."""
    con = connect(root)
    return con.sql(query, params=params) if params is not None else con.sql(query)

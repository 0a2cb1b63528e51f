"""runlake's read side: `Api`, the public-API `Run`, queries over many runs, exports.

It reads only what the engine wrote, through docs/FORMAT.md, and never imports the SDK.
`runlake.Api` is this module's `Api`.

    >>> import runlake.query
    >>> runlake.query.sql("SELECT count(*) FROM runs", root="/tmp/empty-store").fetchall()
    [(0,)]
"""

from __future__ import annotations

import os
from typing import Any

import duckdb

from .api import Api, Project, Runs
from .public_run import Run

__all__ = ["Api", "Project", "Run", "Runs", "sql"]


def sql(query: str, params: Any = None, *, root: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyRelation:
    """`Api(root).sql(query, params)`: DuckDB over the views `runs`, `history`, `lineage`
    and `alerts`."""
    return Api(root).sql(query, params)

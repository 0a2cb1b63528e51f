"""Which runs a query over `history` can read, when its own WHERE says so.

`api.sql("SELECT max(x) FROM history WHERE run_id = ?", [id])` reads one run, yet a view over
every segment of the store costs DuckDB a bind of every file path (and runlake a listing of
every run folder) per query: a one-run query grew with the store. When the query reads
`history` exactly once, as the FROM of its top SELECT, and a top-level AND of its WHERE is
`run_id = <literal or parameter>` (or `run_id IN (...)`), no row of another run can reach the
result, so the query runs over a view of those runs alone. Anything else (joins, a second
reference, a CTE named history, OR at the top) reads the whole store as before.

DuckDB's own parser decides (json_serialize_sql), never a regular expression over the SQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

# What the span of the history reference may hold: [main.]history [[AS] alias], any case,
# each name quoted or not. Anything else (a catalog, an odd quoting) is left alone.
_NAME = r'(?:"[^"]*"|[A-Za-z_]\w*)'
_REFERENCE = re.compile(rf'\s*(?:"?main"?\s*\.\s*)?"?history"?(?:\s+(?:as\s+)?({_NAME}))?\s*',
                        re.IGNORECASE)


@dataclass(frozen=True)
class Narrowed:
    """The query with its history reference swapped for `view`, and the runs it can read."""

    query: str
    run_ids: frozenset[str]


def narrow(con: duckdb.DuckDBPyConnection, query: str, params: Any, view: str) -> Narrowed | None:
    """`query` reading `view` (the runs named by its WHERE) instead of history, or None."""
    try:
        parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [query]).fetchall()[0][0])
    except (duckdb.Error, TypeError, ValueError):
        return None
    if parsed.get("error") or len(parsed.get("statements", ())) != 1:
        return None
    node = parsed["statements"][0]["node"]
    if node.get("type") != "SELECT_NODE" or _mentions_history_cte(parsed):
        return None
    table = node.get("from_table") or {}
    if table.get("type") != "BASE_TABLE" or _history_references(parsed) != 1:
        return None
    if not _is_history(table):
        return None
    alias = table.get("alias") or ""
    run_ids = _run_ids(node.get("where_clause"), alias or "history", params)
    if run_ids is None:
        return None
    encoded = query.encode()
    start, length = table.get("query_location"), table.get("query_location_length")
    if not isinstance(start, int) or not isinstance(length, int) or start + length > len(encoded):
        return None
    try:
        span = encoded[start:start + length].decode()
    except UnicodeDecodeError:
        return None
    if not _REFERENCE.fullmatch(span):
        return None
    name = f'"{alias}"' if alias else "history"
    rewritten = (encoded[:start].decode() + f" {view} AS {name} "
                 + encoded[start + length:].decode())
    return Narrowed(rewritten, frozenset(run_ids))


def _is_history(table: Mapping[str, Any]) -> bool:
    return (str(table.get("table_name", "")).lower() == "history"
            and str(table.get("schema_name", "")).lower() in ("", "main")
            and not table.get("catalog_name") and table.get("sample") is None
            and not table.get("column_name_alias") and table.get("at_clause") is None)


def _walk(value: Any):
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _history_references(parsed: Any) -> int:
    return sum(1 for d in _walk(parsed)
               if d.get("type") == "BASE_TABLE" and str(d.get("table_name", "")).lower() == "history")


def _mentions_history_cte(parsed: Any) -> bool:
    for d in _walk(parsed):
        cte = d.get("cte_map")
        if isinstance(cte, dict) and any(str(e.get("key", "")).lower() == "history"
                                         for e in cte.get("map", ())):
            return True
    return False


def _conjuncts(where: Any) -> list[Mapping[str, Any]]:
    if not isinstance(where, dict):
        return []
    if where.get("type") == "CONJUNCTION_AND":
        return [c for child in where.get("children", ()) for c in _conjuncts(child)]
    return [where]


def _is_run_id(expr: Any, table: str) -> bool:
    if not isinstance(expr, dict) or expr.get("class") != "COLUMN_REF":
        return False
    names = [str(n).lower() for n in expr.get("column_names", ())]
    return names == ["run_id"] or names == [table.lower(), "run_id"]


def _value(expr: Any, params: Any) -> tuple[bool, Any]:
    """(known, value) of a constant or a bound parameter."""
    if not isinstance(expr, dict):
        return False, None
    if expr.get("class") == "CONSTANT":
        literal = expr.get("literal") or {}
        if literal.get("kind") in ("STRING", "VARCHAR"):
            return True, literal.get("text")
        return False, None
    if expr.get("class") == "PARAMETER":
        ident = str(expr.get("identifier", ""))
        if isinstance(params, Mapping):
            return (ident in params), params.get(ident)
        if isinstance(params, Sequence) and not isinstance(params, (str, bytes)) and ident.isdigit():
            i = int(ident) - 1
            if 0 <= i < len(params):
                return True, params[i]
    return False, None


def _run_ids(where: Any, table: str, params: Any) -> set[str] | None:
    """The run ids a top-level conjunct limits the rows to, or None when none does."""
    found: set[str] | None = None
    for c in _conjuncts(where):
        values: list[Any] | None = None
        if c.get("type") == "COMPARE_EQUAL":
            left, right = c.get("left"), c.get("right")
            if _is_run_id(left, table):
                values = [right]
            elif _is_run_id(right, table):
                values = [left]
        elif c.get("type") == "COMPARE_IN":
            children = c.get("children") or []
            if children and _is_run_id(children[0], table):
                values = list(children[1:])
        if values is None:
            continue
        ids: set[str] = set()
        for v in values:
            known, value = _value(v, params)
            if not known or not isinstance(value, str):
                break  # a NULL, a number or an expression: not a set of names we can list
            ids.add(value)
        else:
            found = ids if found is None else found & ids
    return found

"""A query whose WHERE names its runs reads only those runs, with the same rows as the whole
store's view: query/narrow.py decides from DuckDB's parse tree, api.sql falls back on a bind
error."""

from __future__ import annotations

import re

import duckdb
import pytest

import runlake
from runlake.query.narrow import narrow


def settings(root, **kw):
    return runlake.Settings(root=str(root), quiet=True, system_metrics=False, **kw)


@pytest.fixture
def store(root):
    """Three finished runs in two projects (only `b` has `extra`), and one live run."""
    for rid, project in (("a", "p"), ("b", "p"), ("c", "q")):
        with runlake.init(project=project, id=rid, settings=settings(root)) as run:
            for s in range(10):
                row = {"x": float(s) + ord(rid), "n": s}
                if rid == "b":
                    row["extra"] = "hi"
                run.log(row)
    live = runlake.init(project="p", id="live", settings=settings(root, wal_interval=0.01))
    for s in range(7):
        live.log({"x": -float(s)})
    assert live._flush(timeout=30)
    yield root
    live.finish()


def through_whole_store(query: str) -> str:
    """The same query over a subquery of history, which narrowing leaves alone."""
    return re.sub(r"FROM history(?: AS (\w+))?",
                  lambda m: f"FROM (SELECT * FROM history) AS {m.group(1) or 'history'}", query,
                  count=1, flags=re.IGNORECASE)


QUERIES = [
    ("SELECT run_id, _step, x FROM history WHERE run_id = ? ORDER BY _step", ["a"]),
    ("SELECT count(*), max(x) FROM history WHERE run_id = 'live'", None),
    ("SELECT run_id, count(*) FROM history AS h WHERE h.run_id IN ('a', 'c', 'nope') "
     "AND _step > 2 GROUP BY ALL ORDER BY 1", None),
    ("SELECT max(extra) FROM history WHERE run_id = $id", {"id": "a"}),  # only b has extra
    ("SELECT run_id, extra FROM history WHERE run_id = ? AND extra IS NOT NULL LIMIT 1", ["b"]),
    ("SELECT count(*) FROM history WHERE run_id = ?", ["../../etc"]),
    ("SELECT count(*) FROM history WHERE run_id = ?", ["no-such-run"]),
    ("SELECT project, count(*) FROM History WHERE run_id = 'c' GROUP BY ALL", None),
]


@pytest.mark.parametrize("query,params", QUERIES)
def test_narrowed_query_reads_what_the_whole_store_reads(store, query, params):
    api = runlake.Api(root=store, recover=False)
    got = api.sql(query, params).fetchall()
    whole = runlake.Api(root=store, recover=False).sql(through_whole_store(query), params).fetchall()
    assert got == whole


def test_a_one_run_query_defines_no_view_of_the_whole_store(store):
    api = runlake.Api(root=store, recover=False)
    assert api.sql("SELECT count(*) FROM history WHERE run_id = ?", ["a"]).fetchall() == [(10,)]
    assert "history" not in api._views and "history_of_runs" in api._views
    assert api.sql("SELECT count(*) FROM history").fetchall() == [(37,)]
    assert "history" in api._views


def test_a_column_only_other_runs_have_reads_null_as_before(store):
    api = runlake.Api(root=store, recover=False)
    assert api.sql("SELECT max(extra) FROM history WHERE run_id = 'a'").fetchall() == [(None,)]


def test_rows_logged_after_a_narrowed_query_are_seen_by_the_next(root):
    run = runlake.init(project="p", id="grow", settings=settings(root, wal_interval=0.01))
    api = runlake.Api(root=root, recover=False)
    q = "SELECT count(*) FROM history WHERE run_id = 'grow'"
    run.log({"x": 1.0})
    assert run._flush(timeout=30)
    assert api.sql(q).fetchall() == [(1,)]
    run.log({"x": 2.0})
    run.finish()
    assert api.sql(q).fetchall() == [(2,)]


@pytest.mark.parametrize("query,params,ids", [
    ("SELECT * FROM history WHERE run_id = ?", ["a"], {"a"}),
    ("SELECT * FROM main.history AS h WHERE h.run_id = 'a' AND h.run_id IN ('a', 'b')", None,
     {"a"}),
    ("SELECT 'é' AS e, x FROM history WHERE 'b' = run_id", None, {"b"}),
])
def test_narrow_rewrites_only_the_history_reference(query, params, ids):
    con = duckdb.connect()
    got = narrow(con, query, params, "v")
    assert got is not None and got.run_ids == ids
    assert " v AS " in got.query and "history" not in got.query.replace(" AS history", "")


@pytest.mark.parametrize("query,params", [
    ("SELECT * FROM history WHERE run_id = ? OR x > 1", ["a"]),  # OR at the top
    ("SELECT * FROM history h JOIN runs r ON r.id = h.run_id WHERE h.run_id = 'a'", None),
    ("SELECT * FROM history WHERE run_id = 'a' UNION ALL SELECT * FROM history", None),
    ("SELECT *, (SELECT max(x) FROM history) FROM history WHERE run_id = 'a'", None),
    ("WITH history AS (SELECT 'b' AS run_id) SELECT * FROM history WHERE run_id = 'a'", None),
    ("SELECT * FROM history WHERE run_id = 5", None),  # not a name
    ("SELECT * FROM history WHERE run_id = ?", [None]),
    ("SELECT * FROM history WHERE run_id = ?", []),  # a parameter with no value
    ("SELECT * FROM history WHERE x = 1", None),
    ("SELECT * FROM (SELECT * FROM history) WHERE run_id = 'a'", None),
    ("CREATE TABLE t AS SELECT * FROM history WHERE run_id = 'a'", None),
    ("SELECT * FROM history WHERE run_id = 'a'; SELECT 1", None),
])
def test_narrow_leaves_other_queries_to_the_whole_store(query, params):
    assert narrow(duckdb.connect(), query, params, "v") is None

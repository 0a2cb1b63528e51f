"""The read side's fixed costs: views refreshed on one Api as the store changes, only the
views a query names defined, one run found by its path, no pandas or DuckDB unless used."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from runlake import RunNotFoundError
from runlake.engine.layout import RunPaths
from runlake.query import Api, api as api_module
from tests.query.test_tables import log_tables, preds
from tests.query.test_views import make_run

COUNT = "SELECT count(DISTINCT run_id) FROM {}"


def count(api: Api, view: str = "history") -> int:
    return api.sql(COUNT.format(view)).fetchall()[0][0]


def test_views_follow_runs_added_changed_and_deleted_between_two_queries(root):
    make_run(root, "r1", [{"loss": 0.5}])
    api = Api(root)
    assert count(api) == 1
    assert api.sql("SELECT id, name FROM runs").fetchall() == [("r1", "n-r1")]
    make_run(root, "r2", [{"loss": 0.25}, {"acc": 1}])  # added, with a new column
    assert count(api) == 2
    assert api.sql("SELECT sum(acc) FROM history").fetchall() == [(1,)]
    assert api.sql("SELECT count(*) FROM runs").fetchall() == [(2,)]
    r1 = api.run("ent/proj/r1")
    r1.name = "renamed"
    r1.update()  # changed
    assert api.sql("SELECT name FROM runs WHERE id = 'r1'").fetchall() == [("renamed",)]
    r1.delete()  # deleted
    assert count(api) == 1
    assert api.sql("SELECT id FROM runs").fetchall() == [("r2",)]


@pytest.mark.parametrize("query", [
    'SELECT count(DISTINCT run_id) FROM "History"',
    "SELECT count(DISTINCT run_id) FROM main.history",
    "SELECT count(DISTINCT run_id) FROM temp.main.history",
    "WITH h AS (SELECT * FROM HISTORY) SELECT count(DISTINCT run_id) FROM h",
    "SELECT (SELECT count(DISTINCT run_id) FROM history)",
    "SELECT count(*) FROM runs WHERE id IN (SELECT run_id FROM history)",
    "SELECT 1 AS x; ",
])
def test_a_view_named_in_any_form_is_current(root, query):
    make_run(root, "r1", [{"loss": 0.5}])
    api = Api(root)
    first = api.sql(query).fetchall()
    make_run(root, "r2", [{"loss": 0.25}])
    expected = [(1,)] if "SELECT 1" in query else [(2,)]
    assert first == ([(1,)] if "SELECT 1" in query else [(1,)])
    assert api.sql(query).fetchall() == expected


def test_a_query_naming_no_view_defines_none(root, monkeypatch):
    make_run(root, "r1", [{"loss": 0.5}])
    api = Api(root)
    called = []
    for name in ("_define_history", "_define_system", "_define_runs"):
        monkeypatch.setattr(api, name, lambda *a, _n=name: called.append(_n))
    assert api.sql("SELECT 41 + 1").fetchall() == [(42,)]
    assert api.sql("SELECT ? AS p", params=[3]).fetchall() == [(3,)]
    assert called == []


def test_when_unsure_every_view_is_defined(root):
    make_run(root, "r1", [{"loss": 0.5}])
    api = Api(root)
    tables = {row[0] for row in api.sql("SHOW TABLES").fetchall()}
    assert {"runs", "history", "system", "lineage", "alerts"} <= tables
    assert api_module._named_views("SELECT * FROM history; SELECT * FROM runs") == api_module._VIEWS


def test_system_in_any_form(root):
    make_run(root, "r1", [{"loss": 0.5}])
    api = Api(root)
    for q in ('SELECT count(*) FROM "System"', "SELECT count(*) FROM main.system",
              "WITH s AS (SELECT * FROM system) SELECT count(*) FROM s"):
        assert api.sql(q).fetchall() == [(0,)]


def test_table_calls_follow_new_runs(root):
    log_tables(root, "run-a", "preds", {10: preds(1.0)})
    api = Api(root)
    q = "WITH t AS (SELECT * FROM table('preds')) SELECT count(DISTINCT run_id) FROM t"
    assert api.sql(q).fetchall() == [(1,)]
    log_tables(root, "run-b", "preds", {10: preds(2.0)})
    assert api.sql(q).fetchall() == [(2,)]


def test_run_by_path_reads_that_run_only(root, monkeypatch):
    make_run(root, "r1", [{"loss": 0.5}])
    make_run(root, "r2", [{"loss": 0.5}])
    api = Api(root)
    monkeypatch.setattr(api._index, "table", lambda: pytest.fail("the whole index refreshed"))
    run = api.run("ent/proj/r2")
    assert (run.id, run.name, run.state) == ("r2", "n-r2", "finished")
    assert api._connection is None  # no DuckDB for one run


@pytest.mark.parametrize("path", ["ent/proj/nope", "ent/other/r1", "nobody/proj/r1"])
def test_run_by_path_of_a_missing_run_raises_as_before(root, path):
    make_run(root, "r1", [{"loss": 0.5}])
    with pytest.raises(RunNotFoundError, match=f"run {path} not found in store"):
        Api(root).run(path)


def test_a_crashed_run_by_path_reads_crashed(root):
    make_run(root, "r1", [{"loss": 0.5}])
    meta = RunPaths.of(root, "ent", "proj", "r1").meta_file
    data = json.loads(meta.read_text())
    data.update(state="running", host="elsewhere", heartbeat_at="2020-01-01T00:00:00Z")
    meta.write_text(json.dumps(data))
    assert Api(root, recover=False).run("ent/proj/r1").state == "crashed"


_NO_PANDAS = """
import sys
import runlake
api = runlake.Api(sys.argv[1])
runs = list(api.runs("ent/proj"))
run = api.run("ent/proj/r1")
run.history(samples=None, format="polars")
run.history(format="polars")
run.history(samples=2, format="arrow")
api.history("ent/proj").collect()
print("pandas" in sys.modules, api._connection is None and "duckdb" in sys.modules)
"""


def test_no_pandas_unless_asked_for(root):
    make_run(root, "r1", [{"loss": float(i), "ok": i % 2 == 0} for i in range(50)])
    make_run(root, "r2", [{"loss": 1.0}])
    for _ in range(2):  # a cold catalog (built now), then a warm one
        out = subprocess.run([sys.executable, "-c", _NO_PANDAS, str(root)], check=True,
                             capture_output=True, text=True, env={**os.environ}).stdout
        assert out.split()[0] == "False", out


def test_settled_folders_are_not_relisted_but_changes_are_seen(root, monkeypatch):
    make_run(root, "r1", [{"loss": 0.5}])
    make_run(root, "r2", [{"loss": 0.5}])
    old = 1_000_000_000  # 2001: every folder settled long ago
    for folder in [*(root / "history").rglob("run_id=*"), *(root / "runs").rglob("wal")]:
        os.utime(folder, (old, old))
    api = Api(root)
    assert count(api) == 2
    listed = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: listed.append(str(p)) or real(p))
    assert count(api) == 2
    assert not [p for p in listed if "run_id=" in p]  # one stat per run folder, no listing
    make_run(root, "r3", [{"loss": 0.5}])
    paths = RunPaths.of(root, "ent", "proj", "r1")
    (paths.history_dir / "part-000000.parquet").rename(paths.history_dir / "part-000009.parquet")
    assert count(api) == 3
    assert api.sql("SELECT count(*) FROM history WHERE run_id = 'r1'").fetchall() == [(1,)]

"""Api.sql: the DuckDB views `runs` and `history` over a store, with the partition columns."""

from __future__ import annotations

import math

from runlake.query import Api
from runlake.engine.buffer import HistoryBuffer
from runlake.engine.layout import RunPaths
from runlake.engine.meta import RunMeta
from runlake.engine.writer import RunWriter


def make_run(root, run_id, rows):
    paths = RunPaths.of(root, "ent", "proj", run_id)
    RunMeta(paths.meta_file, {"id": run_id, "entity": "ent", "project": "proj",
                              "name": f"n-{run_id}", "state": "finished",
                              "summary": {"best": math.nan}}).update()
    buf = HistoryBuffer()
    for row in rows:
        buf.append(tuple(row), row.values(), buf.step)
    RunWriter(paths, buf, 0.0).close()


def test_empty_store_has_empty_views(root):
    sql = Api(root).sql
    assert sql("SELECT count(*) FROM history").fetchall()[0] == (0,)
    assert sql("SELECT count(*) FROM runs").fetchall()[0] == (0,)
    cols = [d[0] for d in sql("SELECT * FROM history").description]
    assert {"entity", "project", "run_id", "_step"} <= set(cols)


def test_views_over_runs_and_history(root):
    make_run(root, "r1", [{"loss": 0.5}, {"loss": 0.25, "tag": "x"}])
    make_run(root, "r2", [{"acc": 1}])
    sql = Api(root).sql
    got = sql(
        "SELECT entity, project, run_id, _step, loss, acc FROM history ORDER BY run_id, _step"
    ).fetchall()
    assert got == [("ent", "proj", "r1", 0, 0.5, None), ("ent", "proj", "r1", 1, 0.25, None),
                   ("ent", "proj", "r2", 0, None, 1)]
    runs = sql("SELECT id, name, state FROM runs ORDER BY id").fetchall()
    assert runs == [("r1", "n-r1", "finished"), ("r2", "n-r2", "finished")]


def test_root_with_a_quote_in_its_path(tmp_path):
    root = tmp_path / "it's a store"
    make_run(root, "r1", [{"a": 1.0}])
    sql = Api(root).sql
    assert sql("SELECT a FROM history").fetchall() == [(1.0,)]


def test_config_keys_that_differ_only_in_case_across_runs_never_break_a_query(tmp_path):
    """DuckDB's struct keys ignore case: LR in one run and lr in another made every api.sql
    call fail, even a count over history. The JSON columns keep both spellings."""
    import json

    import runlake

    root = tmp_path / "s"
    with runlake.init(settings={"root": root}, project="p", config={"LR": 1, "o": {"A": 1}}) as run:
        run.log({"a": 1.0})
    with runlake.init(settings={"root": root}, project="q", config={"lr": 2, "o": {"a": 2}}) as other:
        other.log({"a": 1.0})
        other.summary["Acc"] = 0.5
    with runlake.init(settings={"root": root}, project="q") as third:
        third.summary["acc"] = 0.7
    api = runlake.Api(root)
    assert api.sql("SELECT count(*) FROM history").fetchall() == [(2,)]
    got = api.sql("SELECT project, config_json FROM runs WHERE config_json IS NOT NULL "
                  "ORDER BY project").fetchall()
    assert [json.loads(j) for _, j in got if json.loads(j)] == [{"LR": 1, "o": {"A": 1}},
                                                               {"lr": 2, "o": {"a": 2}}]
    assert len(api.sql("SELECT config, summary FROM runs").fetchall()) == 3
    assert len(api.runs("p", filters={"config.LR": 1})) == 1

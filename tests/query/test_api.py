"""runlake.Api: projects, runs (filters, order, paging), run(path), the public Run, sql views."""

from __future__ import annotations

import math
import sys

import pytest

import runlake
from runlake.query.index import index_path


def make_runs(root, project="mnist", n=5, steps=20, entity=None):
    ids = []
    for i in range(n):
        with runlake.init(settings={"root": root}, project=project, entity=entity, name=f"run-{i}",
                          config={"lr": 10.0 ** -(i + 1), "opt": {"name": "adam" if i % 2 else "sgd"}},
                          tags=["even"] if i % 2 == 0 else ["odd"], group=f"g{i % 2}",
                          reinit="finish_previous") as run:
            runlake.define_metric("val/acc", summary="max")
            for s in range(steps):
                run.log({"train/loss": 1.0 / (s + 1) + i, "val/acc": s / steps + i / 10})
        ids.append(run.id)
    return ids


def test_runs_lists_filters_orders_and_pages(root):
    ids = make_runs(root)
    api = runlake.Api(root=root)
    assert [p.path for p in api.projects()] == ["local/mnist"]
    runs = api.runs("mnist", per_page=2)
    assert len(runs) == 5
    assert [r.id for r in runs] == ids[::-1]  # newest first
    assert [r.id for r in runs[1:4]] == ids[::-1][1:4]
    assert runs[-1].id == ids[0]
    with pytest.raises(IndexError):
        runs[5]
    small = api.runs("local/mnist", filters={"config.lr": {"$lt": 0.005}, "state": "finished"},
                     order="-summary_metrics.val/acc.max")
    assert [r.name for r in small] == ["run-4", "run-3", "run-2"]
    tagged = api.runs("mnist", filters={"tags": "odd"}, order="+name")
    assert [r.name for r in tagged] == ["run-1", "run-3"]
    nested = api.runs("mnist", filters={"config.opt.name": "adam"})
    assert {r.name for r in nested} == {"run-1", "run-3"}


def test_run_attributes_and_history(root):
    ids = make_runs(root, n=1, steps=1000)
    api = runlake.Api(root=root)
    run = api.run(f"mnist/{ids[0]}")
    assert run.path == ["local", "mnist", ids[0]]
    assert run.state == "finished" and run.name == "run-0" and run.tags == ["even"]
    assert run.config == {"lr": 0.1, "opt": {"name": "sgd"}}
    assert run.summary["val/acc"] == {"max": pytest.approx(0.999)}
    assert run.url is None  # no dashboard configured (tests/tracking/test_urls.py)
    full = run.history(samples=None, format="polars")
    assert full.height == 1000 and full["_step"].to_list() == list(range(1000))
    sampled = run.history(samples=50, keys=["train/loss"], format="arrow")
    assert sampled.num_rows <= 50
    steps = sampled.column("_step").to_pylist()
    assert steps[0] == 0 and steps[-1] == 999
    df = run.history(keys=["val/acc"])  # pandas by default
    assert list(df.columns) == ["_step", "val/acc"]
    rows = list(run.scan_history(keys=["train/loss"], page_size=100, min_step=10, max_step=20))
    assert [r["_step"] for r in rows] == list(range(10, 20))
    assert set(rows[0]) == {"_step", "train/loss"}


def test_missing_things_are_clear_errors(root):
    make_runs(root, n=1)
    api = runlake.Api(root=root)
    with pytest.raises(runlake.RunNotFoundError, match="local/mnist/nope"):
        api.run("mnist/nope")
    with pytest.raises(runlake.RunNotFoundError, match="local/other"):
        api.runs("other")
    with pytest.raises(runlake.InvalidNameError):
        api.run("../etc/passwd")
    with pytest.raises(ValueError, match="operator"):
        api.runs("mnist", filters={"config.lr": {"$nope": 1}})


def test_update_and_delete(root):
    ids = make_runs(root, n=2)
    api = runlake.Api(root=root)
    run = api.run(f"mnist/{ids[0]}")
    run.name, run.tags, run.notes = "renamed", ["a", "b"], "a note"
    run.config["extra"] = 1
    run.summary["best"] = 0.5
    run.update()
    again = runlake.Api(root=root).run(f"mnist/{ids[0]}")
    assert (again.name, again.tags, again.notes) == ("renamed", ["a", "b"], "a note")
    assert again.config["extra"] == 1 and again.summary["best"] == 0.5
    again.delete()
    with pytest.raises(runlake.RunNotFoundError):
        runlake.Api(root=root).run(f"mnist/{ids[0]}")
    assert len(runlake.Api(root=root).runs("mnist")) == 1
    assert not list(root.glob(f"history/*/*/run_id={ids[0]}"))


def test_live_run_is_readable_and_refuses_edits(root):
    run = runlake.init(project="live", settings=runlake.Settings(root=root, wal_interval=0.01))
    for s in range(100):
        run.log({"x": float(s)})
    assert run._flush(timeout=30)
    api = runlake.Api(root=root)
    public = api.run(f"live/{run.id}")
    assert public.state == "running"
    assert [r["_step"] for r in public.scan_history()] == list(range(100))
    assert public.history(samples=None, format="arrow").num_rows == 100
    assert api.sql(f"SELECT count(*) FROM history WHERE run_id = '{run.id}'").fetchall() == [(100,)]
    assert api.history("live").collect().height == 100
    with pytest.raises(runlake.Error, match="still being logged"):
        public.update()
    run.finish()


def test_sql_views_have_typed_config_and_summary(root):
    make_runs(root, n=3)
    api = runlake.Api(root=root)
    got = api.sql(
        'SELECT r.name, r.config.lr, r.summary."val/acc".max AS best, max(h."val/acc") AS hmax '
        "FROM runs r JOIN history h ON h.run_id = r.id GROUP BY ALL ORDER BY r.name"
    ).fetchall()
    assert [g[0] for g in got] == ["run-0", "run-1", "run-2"]
    for name, lr, best, hmax in got:
        assert best == pytest.approx(hmax)
    assert api.sql("SELECT count(*) FROM runs WHERE config_json->>'$.opt.name' = ?",
                   ["adam"]).fetchall() == [(1,)]
    lf = api.history("mnist", keys=["val/acc"])
    df = lf.collect()
    assert set(df.columns) >= {"entity", "project", "run_id", "_step", "val/acc"}
    assert df.height == 3 * 20


def test_index_is_a_rebuildable_cache(root):
    make_runs(root, n=2)
    api = runlake.Api(root=root)
    assert len(api.runs("mnist")) == 2
    assert index_path(root).exists()
    index_path(root).write_bytes(b"not parquet")  # a corrupt cache is rebuilt, never trusted
    assert len(runlake.Api(root=root).runs("mnist")) == 2
    make_runs(root, n=1)  # a new run appears without any explicit refresh
    assert len(api.runs("mnist")) == 3


def test_summary_nonfinite_values_round_trip(root):
    with runlake.init(settings={"root": root}, project="nan") as run:
        run.log({"loss": math.nan, "inf": math.inf})
    public = runlake.Api(root=root).run(f"nan/{run.id}")
    assert math.isnan(public.summary["loss"]) and public.summary["inf"] == math.inf


def test_runs_of_the_default_project(root, monkeypatch):
    monkeypatch.delenv("RUNLAKE_PROJECT", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    make_runs(root, project="uncategorized", n=1)
    make_runs(root, project="other", n=2)
    assert len(runlake.Api(root=root).runs()) == 1
    monkeypatch.setenv("RUNLAKE_PROJECT", "other")
    assert len(runlake.Api(root=root).runs()) == 2


def test_history_as_pandas_without_pandas_says_what_to_do(root, monkeypatch):
    ids = make_runs(root, n=1)
    run = runlake.Api(root=root).run(f"mnist/{ids[0]}")
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    with pytest.raises(ImportError, match="format='polars'"):
        run.history()
    assert run.history(format="polars").height == 20

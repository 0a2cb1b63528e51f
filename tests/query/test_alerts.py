"""Alerts on the read side: `Run.alerts()` and the SQL view `alerts` over every run."""

from __future__ import annotations

import datetime

import runlake


def test_alerts_view_over_runs(root):
    for name, level in (("a", "INFO"), ("b", "ERROR")):
        with runlake.init(project="p", id=name, settings={"root": root}) as run:
            run.log({"loss": 1.0})
            run.alert(f"alert of {name}", "text", level=level)
    with runlake.init(project="q", id="c", settings={"root": root}) as run:
        pass  # no alerts: no file, no rows
    api = runlake.Api(root)
    rows = api.sql("SELECT run_id, step, level, title FROM alerts ORDER BY run_id").fetchall()
    assert rows == [("a", 1, "INFO", "alert of a"), ("b", 1, "ERROR", "alert of b")]
    errors = api.sql("SELECT count(*) FROM alerts WHERE level = ?", ["ERROR"]).fetchall()
    assert errors == [(1,)]
    joined = api.sql("SELECT r.id, a.title FROM runs r JOIN alerts a ON a.run_id = r.id "
                     "WHERE r.state = 'finished' ORDER BY 1").fetchall()
    assert joined == [("a", "alert of a"), ("b", "alert of b")]
    when = api.sql("SELECT time FROM alerts LIMIT 1").fetchall()[0][0]
    assert isinstance(when, datetime.datetime) and when.tzinfo is not None
    assert api.run("q/c").alerts() == []


def test_empty_store_has_an_empty_alerts_view(root):
    api = runlake.Api(root)
    assert api.sql("SELECT count(*) FROM alerts").fetchall() == [(0,)]
    cols = [d[0] for d in api.sql("SELECT * FROM alerts").description]
    assert cols == ["entity", "project", "run_id", "time", "step", "level", "title", "text",
                    "wait_duration", "suppressed"]


def test_live_run_alerts_are_seen_and_the_view_refreshes(root):
    api = runlake.Api(root)
    run = runlake.init(project="p", id="live", settings={"root": root})
    run.alert("first", "x")
    assert api.sql("SELECT title FROM alerts").fetchall() == [("first",)]
    assert [a["title"] for a in api.run("p/live").alerts()] == ["first"]
    run.alert("second", "y")
    assert api.sql("SELECT title FROM alerts ORDER BY time").fetchall() == [("first",), ("second",)]
    run.finish()


def test_torn_and_foreign_lines_are_skipped(root):
    with runlake.init(project="p", id="r", settings={"root": root}) as run:
        run.alert("ok", "x")
    with open(run._paths.alerts_file, "ab") as f:
        f.write(b'[1, 2]\n{"title": 5}\n\xff\xfe\n{"title": "no time"}\n{"time": "2026-')
    api = runlake.Api(root)
    assert [a["title"] for a in api.run("p/r").alerts()] == ["ok", "no time"]
    rows = api.sql("SELECT title, time, step FROM alerts ORDER BY title").fetchall()
    assert rows[0][0] == "no time" and rows[0][1] is None and rows[0][2] is None
    assert rows[1][0] == "ok"


def test_deleted_run_takes_its_alerts(root):
    with runlake.init(project="p", id="r", settings={"root": root}) as run:
        run.alert("ok", "x")
    api = runlake.Api(root)
    assert api.sql("SELECT count(*) FROM alerts").fetchall() == [(1,)]
    api.run("p/r").delete()
    assert api.sql("SELECT count(*) FROM alerts").fetchall() == [(0,)]


def test_alerts_readable_with_plain_duckdb(root):
    import duckdb

    with runlake.init(project="p", id="r", settings={"root": root}) as run:
        run.alert("ok", "x", level="WARN")
    path = root / "runs" / "entity=local" / "project=p" / "run_id=r" / "alerts.jsonl"
    rows = duckdb.sql(f"SELECT title, level, step FROM read_json_auto('{path}')").fetchall()
    assert rows == [("ok", "WARN", 0)]

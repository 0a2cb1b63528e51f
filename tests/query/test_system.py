"""System metrics through the Api: `Run.history(stream="system")` (wandb's "events") and the
SQL view `system`, for finished runs and for a live run whose samples are only in its WAL."""

from __future__ import annotations

import pytest

import runlake
from runlake.engine.layout import RunPaths
from runlake.engine.system import SystemWriter, sample_table
from tests.helpers import wait_for

FAST = runlake.Settings(system_metrics_interval=0.02, console="off")


def finished_run(root, project="p", samples_at_least=3):
    run = runlake.init(project=project, settings=FAST.replace(root=root))
    paths = run._paths  # noqa: SLF001
    wait_for("samples", lambda: any(paths.system_wal_dir.glob("*.arrows")) and
             sum(1 for _ in _frames(paths)) >= samples_at_least, 60)
    run.log({"loss": 0.5})
    run.finish()
    return run


def _frames(paths):
    from runlake.engine.wal import read_frames

    for wal in paths.system_wal_dir.glob("*.arrows"):
        try:
            yield from read_frames(wal)
        except FileNotFoundError:
            return


def test_history_of_the_system_stream(root):
    run = finished_run(root)
    api = runlake.Api(root=root)
    public = api.run(f"p/{run.id}")
    table = public.history(stream="system", samples=None, format="arrow")
    assert table.num_rows >= 3
    assert table.column_names[:2] == ["_timestamp", "_runtime"]
    assert "system.cpu" in table.column_names and "_step" not in table.column_names
    ts = table["_timestamp"].to_pylist()
    assert ts == sorted(ts)
    events = public.history(stream="events", samples=None, format="arrow")
    assert events.equals(table)
    # keys: only those columns (and the x axis), rows where all are present
    some = public.history(stream="system", keys=["system.memory_percent"], format="records")
    assert some and set(some[0]) == {"_timestamp", "_runtime", "system.memory_percent"}
    assert public.history(stream="system", keys=["no.such.key"], format="records") == []
    # sampling keeps the ends, in time order
    two = public.history(stream="system", samples=2, format="arrow")
    assert two["_timestamp"].to_pylist() == [ts[0], ts[-1]]
    # the default stream is untouched
    assert public.history(samples=None, format="records")[0]["loss"] == 0.5


def test_a_bad_stream_is_refused(root):
    run = finished_run(root, samples_at_least=0)
    with pytest.raises(ValueError, match="stream must be 'default'.*'system'.*got 'gpu'"):
        runlake.Api(root=root).run(f"p/{run.id}").history(stream="gpu")


def test_a_run_without_system_metrics_has_an_empty_stream(root):
    run = runlake.init(project="p", settings=FAST.replace(system_metrics=False).replace(root=root))
    run.log({"a": 1})
    run.finish()
    api = runlake.Api(root=root)
    assert api.run(f"p/{run.id}").history(stream="system", format="records") == []
    assert api.sql("SELECT count(*) FROM system").fetchall() == [(0,)]


def test_sql_view_over_every_run(root):
    runs = [finished_run(root, project=p) for p in ("p", "p", "q")]
    api = runlake.Api(root=root)
    got = dict(api.sql(
        'SELECT run_id, count(*) FROM system WHERE "system.cpu" >= 0 GROUP BY run_id'
    ).fetchall())
    assert set(got) == {r.id for r in runs} and all(n >= 3 for n in got.values())
    rows = api.sql("SELECT DISTINCT entity, project FROM system ORDER BY project").fetchall()
    assert rows == [("local", "p"), ("local", "q")]
    joined = api.sql(
        "SELECT r.name, max(s._runtime) FROM system s JOIN runs r ON r.id = s.run_id GROUP BY 1"
    ).fetchall()
    assert len(joined) == 3


def test_a_live_runs_samples_are_readable_before_finish(root):
    run = runlake.init(project="p", settings=FAST.replace(root=root))
    api = runlake.Api(root=root)
    wait_for("live samples via SQL",
             lambda: api.sql("SELECT count(*) FROM system").fetchall()[0][0] >= 2, 60)
    assert not list((root / "system").rglob("*.parquet"))  # only in the WAL so far
    live = api.run(f"p/{run.id}").history(stream="system", samples=None, format="arrow")
    assert live.num_rows >= 2
    run.finish()
    after = api.run(f"p/{run.id}").history(stream="system", samples=None, format="arrow")
    assert after.num_rows >= live.num_rows
    assert after["_timestamp"].to_pylist()[:live.num_rows] == live["_timestamp"].to_pylist()


def test_segments_with_different_metrics_unify_by_name(root):
    # A GPU machine's run and a CPU-only run in one store: the view has both columns.
    for run_id, values in (("gpu-run", {"system.gpu.0.gpu": 80.0, "system.cpu": 10.0}),
                           ("cpu-run", {"system.cpu": 20.0})):
        writer = SystemWriter(RunPaths.of(root, "local", "p", run_id))
        writer.append(sample_table(1e9, 1.0, values))
        writer.close()
    got = runlake.Api(root=root).sql(
        'SELECT run_id, "system.gpu.0.gpu", "system.cpu" FROM system ORDER BY run_id'
    ).fetchall()
    assert got == [("cpu-run", None, 20.0), ("gpu-run", 80.0, 10.0)]


def test_delete_removes_the_system_stream(root):
    run = finished_run(root, samples_at_least=1)
    api = runlake.Api(root=root)
    api.run(f"p/{run.id}").delete()
    assert not (root / "system" / "entity=local" / "project=p" / f"run_id={run.id}").exists()

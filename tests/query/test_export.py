"""Api.export: histories of a project (or one run) to one Parquet or CSV file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import runlake
from runlake.query import export as export_mod

PARTS = ("entity", "project", "run_id")


def _a(s: int) -> dict:
    row = {"loss": 1.0 / (s + 1), "epoch": s // 10, "phase": "warmup" if s < 10 else "train"}
    if s % 5 == 0:
        row["hist"] = [s, s + 1]
    return row


def _b(s: int) -> dict:
    row = {"loss": 2.0 / (s + 1)}
    if s % 5 == 0:
        row["acc"] = s / 25
        row["hist"] = [s / 2, 0.5]
    return row


def _c(s: int) -> dict:
    # An int loss (a float in the others), a string of its own and a key named like a
    # partition column.
    return {"loss": s, "note": f"n{s}", "project": "own"}


RUNS = {"run-a": (0.1, ["base"], 30, _a), "run-b": (0.01, ["best"], 25, _b),
        "run-c": (0.001, ["base"], 20, _c)}


def expected(run_id: str) -> list[dict]:
    """What the run logged: one dict per step, without nulls (`project` exported as `_project`)."""
    _, _, steps, row = RUNS[run_id]
    out = []
    for s in range(steps):
        r = {"_step": s, **row(s)}
        if "project" in r:
            r["_project"] = r.pop("project")
        out.append(r)
    return out


def make_project(root: Path, project: str = "sweep") -> None:
    from unittest import mock

    from runlake.tracking import values

    # run-c logs a key named like a partition column, as a store written before log() refused
    # such keys may hold: the readers must still keep it apart.
    for run_id, (lr, tags, steps, row) in RUNS.items():
        with mock.patch.object(values, "PARTITIONS", ()), \
                runlake.init(settings={"root": root}, project=project, id=run_id, config={"lr": lr}, tags=tags,
                             reinit="finish_previous") as run:
            for s in range(steps):
                data = row(s)
                hist = data.pop("hist", None)
                if hist is not None:  # joins this step's row
                    run.log({"hist": hist}, commit=False)
                run.log(data)


def rows_by_run(table: pa.Table, json_cols: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """Rows per run_id, sorted by step, nulls and _runtime/_timestamp left out."""
    out: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        assert row["entity"] == "local" and row["project"] == "sweep"
        clean = {k: (json.loads(v) if k in json_cols else v) for k, v in row.items()
                 if v is not None and k not in ("entity", "project", "run_id", "_runtime", "_timestamp")}
        out.setdefault(row["run_id"], []).append(clean)
    for rows in out.values():
        rows.sort(key=lambda r: r["_step"])
    return out


@pytest.fixture
def api(root):
    make_project(root)
    return runlake.Api(root=root)


def test_parquet_has_every_row_once_with_union_schema(api, tmp_path):
    dest = tmp_path / "out" / "deep" / "sweep.parquet"  # parents are created
    assert api.export("sweep", dest) == dest
    table = pq.read_table(dest)
    assert table.column_names[:6] == [*PARTS, "_step", "_runtime", "_timestamp"]
    schema = table.schema
    assert schema.field("loss").type == pa.float64()  # int in run-c, float elsewhere
    assert schema.field("epoch").type == pa.int64()
    assert pa.types.is_string(schema.field("phase").type) or pa.types.is_large_string(schema.field("phase").type)
    assert pa.types.is_list(schema.field("hist").type)
    assert schema.field("hist").type.value_type == pa.float64()
    assert {"acc", "note", "_project"} <= set(table.column_names)
    assert rows_by_run(table) == {r: expected(r) for r in RUNS}
    assert table.column("_runtime").null_count == 0
    # DuckDB sees the same: each (run, step) once.
    got = duckdb.sql(f"SELECT run_id, count(*), count(DISTINCT _step) FROM '{dest}' GROUP BY 1 ORDER BY 1").fetchall()
    assert got == [(r, n, n) for r, (_, _, n, _) in sorted(RUNS.items())]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["sweep.parquet"]  # no temporary file


def test_csv_round_trips_with_lists_as_json(api, tmp_path):
    dest = tmp_path / "sweep.csv"
    api.export("local/sweep", dest)
    assert dest.read_text().splitlines()[0].startswith('"entity","project","run_id","_step"')
    table = duckdb.sql(f"SELECT * FROM read_csv('{dest}', header = true)").arrow()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    assert rows_by_run(table, json_cols=("hist",)) == {r: expected(r) for r in RUNS}
    assert json.loads(table.filter(pa.compute.equal(table["run_id"], "run-a"))["hist"][0].as_py()) == [0, 1]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")) == []


def test_filters_restrict_the_runs(api, tmp_path):
    dest = api.export("sweep", tmp_path / "base.parquet", filters={"tags": "base"})
    table = pq.read_table(dest)
    assert set(table.column("run_id").to_pylist()) == {"run-a", "run-c"}
    assert "acc" not in table.column_names  # only the exported runs make the schema
    assert rows_by_run(table) == {"run-a": expected("run-a"), "run-c": expected("run-c")}
    small = api.export("sweep", tmp_path / "lr.csv", filters={"config.lr": {"$lt": 0.05}})
    got = duckdb.sql(f"SELECT run_id, count(*) FROM read_csv('{small}') GROUP BY 1 ORDER BY 1")
    assert got.fetchall() == [("run-b", 25), ("run-c", 20)]


def test_filters_matching_nothing_write_an_empty_file(api, tmp_path):
    dest = api.export("sweep", tmp_path / "none.parquet", filters={"tags": "nope"})
    table = pq.read_table(dest)
    assert table.num_rows == 0
    assert table.column_names == [*PARTS, "_step", "_runtime", "_timestamp"]


@pytest.mark.parametrize("path", ["sweep/run-b", "local/sweep/run-b"])
def test_one_run(api, tmp_path, path):
    table = pq.read_table(api.export(path, tmp_path / "b.parquet"))
    assert rows_by_run(table) == {"run-b": expected("run-b")}
    assert "epoch" not in table.column_names


def test_format_from_argument_or_suffix(api, tmp_path):
    dest = api.export("sweep", tmp_path / "h.data", format="csv")
    assert dest.read_text().startswith('"entity"')
    dest = api.export("sweep", tmp_path / "H.PARQUET")
    assert pq.read_table(dest).num_rows == 75
    dest = api.export("sweep", tmp_path / "as.csv", format="parquet")  # the argument wins
    assert pq.read_table(dest).num_rows == 75


def test_unknown_format_is_a_clear_error_and_writes_nothing(api, tmp_path):
    with pytest.raises(ValueError, match=r"\.parquet or \.csv"):
        api.export("sweep", tmp_path / "out" / "h.json")
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        api.export("sweep", tmp_path / "out" / "h.parquet", format="xlsx")
    assert not (tmp_path / "out").exists()


def test_missing_project_or_run_and_filters_on_a_run(api, tmp_path):
    with pytest.raises(runlake.RunNotFoundError, match="local/other"):
        api.export("other", tmp_path / "x.parquet")
    with pytest.raises(runlake.RunNotFoundError, match="neither a project"):
        api.export("sweep/nope", tmp_path / "x.parquet")
    with pytest.raises(runlake.RunNotFoundError, match="nope"):
        api.export("local/sweep/nope", tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="one run"):
        api.export("local/sweep/run-a", tmp_path / "x.parquet", filters={"tags": "base"})
    with pytest.raises(runlake.InvalidNameError):
        api.export("../etc", tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="folder"):
        api.export("sweep", tmp_path)
    assert not (tmp_path / "x.parquet").exists()


def test_failure_leaves_no_partial_file_and_keeps_the_old_one(api, tmp_path, monkeypatch):
    dest = tmp_path / "h.parquet"
    dest.write_bytes(b"old")
    calls = []

    def failing(table, paths, *schema):
        calls.append(paths.run_id)
        if len(calls) == 2:
            raise OSError("disk full")
        return conform(table, paths, *schema)

    conform = export_mod._conform
    monkeypatch.setattr(export_mod, "_conform", failing)
    with pytest.raises(OSError, match="disk full"):
        api.export("sweep", dest)
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_small_row_groups_and_batches_give_the_same_rows(api, tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod, "BATCH_ROWS", 7)
    monkeypatch.setattr(export_mod, "WRITE_ROWS", 10)
    dest = api.export("sweep", tmp_path / "h.parquet")
    assert pq.ParquetFile(dest).metadata.num_row_groups > 1
    assert rows_by_run(pq.read_table(dest)) == {r: expected(r) for r in RUNS}


def test_types_of_different_families_go_to_family_columns(root, tmp_path):
    # As one run logging them all would store them (FORMAT.md, "Schema evolution").
    for i, value in enumerate([True, 3, "high", [1, 2]]):
        with runlake.init(settings={"root": root}, project="mixed", id=f"r{i}", reinit="finish_previous") as run:
            run.log({"v": value, "n": i, "bi": True if i == 0 else i})
    api = runlake.Api(root=root)
    table = pq.read_table(api.export("mixed", tmp_path / "m.parquet"))
    assert table.schema.field("v").type == pa.int64()
    assert pa.types.is_large_string(table.schema.field("v@str").type)
    assert table.schema.field("v@list").type.value_type == pa.int64()
    by_run = {c: dict(zip(table.column("run_id").to_pylist(), table.column(c).to_pylist()))
              for c in ("v", "v@str", "v@list")}
    assert by_run == {"v": {"r0": 1, "r1": 3, "r2": None, "r3": None},
                      "v@str": {"r0": None, "r1": None, "r2": "high", "r3": None},
                      "v@list": {"r0": None, "r1": None, "r2": None, "r3": [1, 2]}}
    assert table.schema.field("n").type == pa.int64()
    # bool and int meet as int (True == 1), as a column widens within one run
    assert table.schema.field("bi").type == pa.int64()
    assert dict(zip(table.column("run_id").to_pylist(), table.column("bi").to_pylist())) == {
        "r0": 1, "r1": 1, "r2": 2, "r3": 3}


def test_a_live_run_is_exported_from_its_write_ahead_log(root, tmp_path):
    run = runlake.init(project="live", id="live-1",
                       settings=runlake.Settings(root=root, wal_interval=0.01))
    try:
        for s in range(50):
            run.log({"x": float(s), "tag": "t"})
        assert run._flush(timeout=30)
        table = pq.read_table(runlake.Api(root=root).export("live", tmp_path / "live.parquet"))
        assert table.column("_step").to_pylist() == list(range(50))
        assert table.column("x").to_pylist() == [float(s) for s in range(50)]
        assert set(table.column("run_id").to_pylist()) == {"live-1"}
    finally:
        run.finish()


def test_progress_bar_only_on_a_terminal(api, tmp_path):
    quiet = io.StringIO()  # not a terminal: nothing at all
    export_mod.export(api, "sweep", tmp_path / "h.parquet", progress=quiet)
    assert quiet.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = export_mod._Progress(100, 2, tty, interval=0, delay=0)
    bar.add(rows=40)
    bar.add(rows=60, runs=2)
    bar.close()
    out = tty.getvalue()
    assert out.startswith("\r") and out.endswith("\n")
    assert "100/100 rows, 2/2 runs" in out and out.count("\n") == 1
    silent = Tty()
    bar = export_mod._Progress(100, 2, silent, delay=3600)  # small exports never draw
    bar.add(rows=100, runs=2)
    bar.close()
    assert silent.getvalue() == ""

"""Training-style scripts run as real processes; the store is then read with no runlake code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.helpers import history

pytestmark = pytest.mark.slow  # every test runs a script in its own process


def run_script(tmp_path: Path, source: str, store: Path, *, expect_ok: bool = True,
               name: str = "train.py") -> subprocess.CompletedProcess:
    script = tmp_path / name
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["RUNLAKE_DIR"] = str(store)
    env["HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )
    if expect_ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0, proc.stdout
    return proc


def run_jsons(store: Path) -> list[dict]:
    out = []
    for path in sorted(store.glob("runs/entity=*/project=*/run_id=*/run.json")):
        with open(path, encoding="utf-8") as f:
            out.append(json.load(f))
    return out


def glob(store: Path) -> str:
    return str(store / "history" / "**" / "*.parquet")


QUICKSTART = """
    import runlake as wandb

    with wandb.init(project="mnist", config={"lr": 1e-3, "bs": 64}, tags=["baseline"]) as run:
        wandb.define_metric("val/acc", summary="max")
        for step in range(10_000):
            run.log({"train/loss": 1 / (step + 1), "lr": 1e-3})
            if step % 1000 == 0:
                run.log({"val/acc": step / 10_000}, commit=False)
    print(run.summary["val/acc"], run.step)      # {'max': 0.9} 10000
    print("RUN", run.id)
"""


def test_readme_quickstart_read_by_plain_duckdb_and_polars(tmp_path):
    store = tmp_path / "store"
    proc = run_script(tmp_path, QUICKSTART, store)
    lines = proc.stdout.splitlines()
    assert lines[0] == "{'max': 0.9} 10000"
    run_id = lines[1].split()[1]

    con = duckdb.connect()
    rel = f"read_parquet('{glob(store)}', hive_partitioning = true, union_by_name = true)"
    n, max_acc, n_acc, entity, project, rid = con.execute(
        f'SELECT count(*), max("val/acc"), count("val/acc"), any_value(entity), '
        f"any_value(project), any_value(run_id) FROM {rel}"
    ).fetchall()[0]
    assert n == 10_000 and n_acc == 10
    assert max_acc == pytest.approx(0.9)
    assert (entity, project, rid) == ("local", "mnist", run_id)
    assert con.execute(f"SELECT min(_step), max(_step), count(DISTINCT _step) FROM {rel}").fetchall()[0] == (
        0, 9999, 10_000
    )
    # commit=False after the loop's log() joins the next step's row (wandb's rule)
    assert con.execute(f'SELECT "train/loss", "val/acc" FROM {rel} WHERE _step = 1001').fetchall()[0] == (
        pytest.approx(1 / 1002), pytest.approx(0.1)
    )
    assert con.execute(f'SELECT "val/acc" FROM {rel} WHERE _step = 1000').fetchall()[0] == (None,)
    types = dict(con.sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {rel})").fetchall())
    assert types["_step"] == "BIGINT"
    assert types["_runtime"] == "DOUBLE" and types["_timestamp"] == "DOUBLE"
    assert types["train/loss"] == "DOUBLE" and types["val/acc"] == "DOUBLE"

    df = pl.scan_parquet(glob(store), hive_partitioning=True).collect()
    assert df.height == 10_000
    assert df["_step"].dtype == pl.Int64
    assert df["_runtime"].dtype == pl.Float64 and df["_timestamp"].dtype == pl.Float64
    assert df["val/acc"].max() == pytest.approx(0.9)
    assert df["val/acc"].null_count() == 10_000 - 10
    assert set(df["run_id"].unique().to_list()) == {run_id}
    assert set(df["project"].unique().to_list()) == {"mnist"}
    assert set(df["entity"].unique().to_list()) == {"local"}
    assert (df["_runtime"] >= 0).all()

    [meta] = run_jsons(store)
    assert meta["state"] == "finished" and meta["exit_code"] == 0
    assert meta["summary"]["val/acc"] == {"max": 0.9}
    assert meta["summary"]["train/loss"] == pytest.approx(1 / 10_000)
    assert meta["config"] == {"lr": 1e-3, "bs": 64} and meta["tags"] == ["baseline"]
    # everything was compacted: no write-ahead log is left behind
    assert not list(store.glob("runs/*/*/*/wal/*.arrows"))


def test_several_runs_in_one_script_and_in_separate_processes(tmp_path):
    store = tmp_path / "store"
    run_script(tmp_path, """
        import runlake
        for lr in (0.1, 0.01, 0.001):
            run = runlake.init(project="sweep", config={"lr": lr}, reinit="finish_previous")
            for step in range(100):
                run.log({"loss": lr * (100 - step), "step_i": step})
        runlake.finish()
    """, store)
    for seed in range(2):
        run_script(tmp_path, f"""
            import runlake
            with runlake.init(project="sweep", config={{"seed": {seed}}}) as run:
                for step in range(50):
                    run.log({{"loss": float(step), "tag": "s{seed}"}})
        """, store, name=f"proc{seed}.py")
    metas = run_jsons(store)
    assert len(metas) == 5
    assert all(m["state"] == "finished" for m in metas)
    assert len({m["id"] for m in metas}) == 5
    counts = duckdb.sql(
        f"SELECT run_id, count(*) FROM read_parquet('{glob(store)}', hive_partitioning = true, "
        "union_by_name = true) GROUP BY run_id ORDER BY 2"
    ).fetchall()
    assert sorted(c for _, c in counts) == [50, 50, 100, 100, 100]
    assert {r for r, _ in counts} == {m["id"] for m in metas}
    # a key only some runs have (tag) comes out as null for the others
    files = sorted(store.glob("history/*/*/*/*.parquet"))
    df = pl.concat(
        [pl.scan_parquet(f, hive_partitioning=True) for f in files], how="diagonal_relaxed"
    ).collect()
    assert set(df["run_id"].unique().to_list()) == {m["id"] for m in metas}
    assert df.height == 400
    assert df["tag"].null_count() == 300


def test_exception_inside_with_block_fails_the_run(tmp_path):
    store = tmp_path / "store"
    proc = run_script(tmp_path, """
        import runlake
        with runlake.init(project="crash") as run:
            for step in range(20):
                run.log({"loss": float(step)})
            raise RuntimeError("diverged at step 20")
    """, store, expect_ok=False)
    assert "RuntimeError: diverged at step 20" in proc.stderr
    [meta] = run_jsons(store)
    assert meta["state"] == "failed" and meta["exit_code"] == 1
    assert meta["error"] == "RuntimeError: diverged at step 20"
    assert history(store).num_rows == 20


def test_unhandled_exception_without_with_block_fails_the_run_at_exit(tmp_path):
    store = tmp_path / "store"
    proc = run_script(tmp_path, """
        import runlake
        run = runlake.init(project="crash")
        for step in range(30):
            run.log({"loss": float(step)})
        raise ValueError("bad batch")
    """, store, expect_ok=False)
    assert "ValueError: bad batch" in proc.stderr  # the original traceback is still printed
    [meta] = run_jsons(store)
    assert meta["state"] == "failed" and meta["exit_code"] == 1
    assert "ValueError: bad batch" in meta["error"]
    assert meta["finished_at"] is not None
    assert history(store).column("loss").to_pylist() == [float(s) for s in range(30)]


def test_script_that_never_calls_finish_is_finished_at_exit(tmp_path):
    store = tmp_path / "store"
    run_script(tmp_path, """
        import runlake
        run = runlake.init(project="nofinish", config={"a": 1})
        runlake.define_metric("loss", summary="min")
        for step in range(5000):
            run.log({"loss": 1.0 / (step + 1), "i": step})
        run.log({"last": True}, commit=False)
    """, store)
    [meta] = run_jsons(store)
    assert meta["state"] == "finished" and meta["exit_code"] == 0
    assert meta["summary"]["loss"] == {"min": pytest.approx(1 / 5000)}
    table = history(store)
    assert table.num_rows == 5001
    assert table.column("i").to_pylist()[:5000] == list(range(5000))
    assert table.column("last").to_pylist()[-1] is True
    assert not list(store.glob("runs/*/*/*/wal/*.arrows"))


@pytest.mark.parametrize("status, state, code", [
    ("0", "finished", 0), ("None", "finished", 0), ("3", "failed", 3), ("'bad config'", "failed", 1),
])
def test_sys_exit_code_decides_the_state_of_a_run_finished_at_exit(tmp_path, status, state, code):
    """wandb hooks sys.exit(): its code is the run's exit code (a message counts as 1)."""
    store = tmp_path / "store"
    proc = run_script(tmp_path, f"""
        import sys
        import runlake
        run = runlake.init(project="exit")
        run.log({{"a": 1}})
        sys.exit({status})
    """, store, expect_ok=code == 0)
    assert proc.returncode == code
    [meta] = run_jsons(store)
    assert (meta["state"], meta["exit_code"]) == (state, code)
    assert history(store).num_rows == 1


def test_readme_query_module_and_cli_over_the_store(tmp_path, monkeypatch):
    store = tmp_path / "store"
    run_script(tmp_path, """
        import runlake
        for lr in (0.1, 0.2):
            with runlake.init(project="q", config={"lr": lr}) as run:
                runlake.define_metric("val/acc", summary="max")
                for step in range(200):
                    run.log({"train/loss": 1 / (step + 1)})
                    if step % 50 == 0:
                        run.log({"val/acc": lr * step / 200}, commit=False)
    """, store)
    import runlake.query

    monkeypatch.setenv("RUNLAKE_DIR", str(store))
    df = runlake.query.sql('SELECT run_id, max("val/acc") AS best FROM history GROUP BY run_id').pl()
    assert df.height == 2
    assert sorted(df["best"].to_list()) == pytest.approx([0.1 * 150 / 200, 0.2 * 150 / 200])
    got = runlake.query.sql(
        "SELECT count(*) FROM history WHERE project = $p", params={"p": "q"}, root=store
    ).fetchall()
    assert got == [(400,)]
    states = runlake.query.sql("SELECT state, count(*) FROM runs GROUP BY state").fetchall()
    assert states == [("finished", 2)]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "runlake", "sql", "SELECT 'runs=' || count(*) AS n FROM runs",
         "--dir", str(store)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "runs=2" in proc.stdout


def test_cli_demo_writes_runs_that_plain_duckdb_reads(tmp_path):
    store = tmp_path / "demo-store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "runlake", "demo", "--runs", "2", "--steps", "300", "--dir", str(store)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "runlake-store").exists()  # --dir was honoured
    counts = duckdb.connect().execute(
        f"SELECT run_id, count(*) FROM read_parquet('{glob(store)}', hive_partitioning = true, "
        "union_by_name = true) GROUP BY run_id"
    ).fetchall()
    assert sorted(c for _, c in counts) == [300, 300]
    assert all(m["state"] == "finished" and m["group"] == "lr-sweep" for m in run_jsons(store))

"""System metrics and console capture in real processes, read back with plain DuckDB and
polars: a training script that finishes, and one killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import duckdb
import polars as pl
import pytest

import runlake
from tests.e2e.test_training_script import run_script
from tests.helpers import wait_for

pytestmark = pytest.mark.slow  # every test runs a script in its own process

TRAIN = """
    import subprocess, sys, time
    import runlake as wandb

    run = wandb.init(project="sys", settings=wandb.Settings(system_metrics_interval=0.05))
    # A data-loading child using CPU, as a DataLoader worker would.
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\\nt = time.time()\\nwhile time.time() - t < 1: pass"])
    for step in range(2000):
        run.log({"loss": 1 / (step + 1), "lr": 1e-3})
        if step % 200 == 0:
            print(f"step {step} loss {1 / (step + 1):.4f}")
            time.sleep(0.05)
    child.wait()
    print("warning: done", file=sys.stderr)
    time.sleep(0.3)
    run.finish()
    print("RUN", run.id)
"""


def test_a_training_script_leaves_system_parquet_and_output_log(tmp_path):
    store = tmp_path / "store"
    proc = run_script(tmp_path, TRAIN, store)
    run_id = proc.stdout.split("RUN ")[-1].strip()
    assert "step 1800 loss" in proc.stdout  # the user still saw the prints
    glob = str(store / "system" / "**" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT run_id, count(*) AS n, max(\"system.cpu\") AS cpu, min(_runtime) AS t0, "
        f"max(\"system.proc.memory.rssMB\") AS rss FROM read_parquet('{glob}', "
        "hive_partitioning = true, union_by_name = true) GROUP BY run_id"
    ).fetchall()
    assert len(rows) == 1
    rid, n, cpu, t0, rss = rows[0]
    assert rid == run_id and n >= 5 and cpu > 0 and t0 >= 0 and rss > 10
    frame = pl.read_parquet(glob, hive_partitioning=True)
    assert frame.height == n
    assert {"_timestamp", "_runtime", "system.cpu", "system.memory_percent",
            "system.network.sent", "run_id"} <= set(frame.columns)
    assert frame["_timestamp"].is_sorted()
    log = (store / "runs" / "entity=local" / "project=sys" / f"run_id={run_id}" / "files"
           / "output.log").read_text(encoding="utf-8")
    assert [line for line in log.splitlines() if line.startswith("step ")] == [
        f"step {s} loss {1 / (s + 1):.4f}" for s in range(0, 2000, 200)]
    assert "warning: done\n" in log
    assert "RUN" not in log  # printed after finish
    # and through the Api, beside the history
    api = runlake.Api(root=store)
    public = api.run(f"sys/{run_id}")
    assert public.history(stream="system", samples=None, format="polars").height == n
    assert public.history(samples=None, format="polars").height == 2000


KILLED = """
    import sys, time
    import runlake

    run = runlake.init(project="k", settings=runlake.Settings(system_metrics_interval=0.02))
    print("RUN", run.id, flush=True)
    step = 0
    while True:
        run.log({"loss": step})
        if step % 50 == 0:
            print(f"line {step}")
        step += 1
        time.sleep(0.001)
"""


def test_a_killed_process_leaves_readable_system_metrics_and_output(tmp_path):
    store = tmp_path / "store"
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILLED), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
    env.update(RUNLAKE_DIR=str(store), HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = proc.stdout.readline().split()[1]
        run_dir = store / "runs" / "entity=local" / "project=k" / f"run_id={run_id}"
        wal_dir = run_dir / "system-wal"
        log = run_dir / "files" / "output.log"

        def progress():
            frames = sum(f.stat().st_size for f in wal_dir.glob("*.arrows")) if wal_dir.is_dir() else 0
            return frames > 0 and log.exists() and log.read_text().count("line ") >= 3

        wait_for("samples and output on disk", progress, 120)
        seen_log = log.read_text(encoding="utf-8")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # Before any recovery: the samples are readable from the WAL, through the Api ...
    api = runlake.Api(root=store, recover=False)
    before = api.run(f"k/{run_id}").history(stream="system", samples=None, format="arrow")
    assert before.num_rows >= 1 and "system.cpu" in before.column_names
    assert api.sql("SELECT count(*) FROM system").fetchall() == [(before.num_rows,)]
    # ... and output.log has what was on disk at the kill, whole lines first.
    after_log = log.read_text(encoding="utf-8")
    assert after_log.startswith(seen_log)
    lines = [x for x in after_log.splitlines() if x.startswith("line ")]
    assert lines == [f"line {i * 50}" for i in range(len(lines))]

    # Recovery (the next reader) compacts the WAL into Parquet that plain DuckDB reads.
    recovered = runlake.Api(root=store).run(f"k/{run_id}")
    assert recovered.state == "crashed"
    assert not list(wal_dir.glob("*.arrows"))
    glob = str(store / "system" / "**" / "*.parquet")
    got = duckdb.sql(f"SELECT _timestamp FROM read_parquet('{glob}') ORDER BY 1").fetchall()
    assert [t for (t,) in got] == before["_timestamp"].to_pylist()


TERMINATED = """
    import os, signal
    import runlake

    run = runlake.init(project="t", settings=runlake.Settings(system_metrics_interval=3600))
    print("RUN", run.id, flush=True)
    run.log({"loss": 1.0})
    print("last words before the preemption")
    os.kill(os.getpid(), signal.SIGTERM)  # the flush thread sleeps for up to a second yet
    signal.pause()
"""


def test_sigterm_writes_the_console_before_the_process_ends(tmp_path):
    store = tmp_path / "store"
    proc = run_script(tmp_path, TERMINATED, store, expect_ok=False, name="term.py")
    assert proc.returncode == -signal.SIGTERM
    run_id = proc.stdout.split("RUN ")[1].split()[0]
    log = (store / "runs" / "entity=local" / "project=t" / f"run_id={run_id}" / "files"
           / "output.log").read_text(encoding="utf-8")
    assert "last words before the preemption\n" in log

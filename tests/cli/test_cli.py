"""The `runlake` command (sdk/cli/commands.py): tables of runs and rows, SQL, exports,
one-line errors.

Most tests call `runlake.cli.main([...])` in-process; a few run the installed console script
(and `python -m runlake`) as real processes, one of them with stderr on a pseudo-terminal.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from runlake.cli.commands import main
from runlake.query import export as export_module

import runlake

STEPS = 20
RUNS = {  # name: (project, lr, tags)
    "first": ("p", 0.1, ["sweep"]),
    "second": ("p", 0.01, ["sweep", "best"]),
    "other": ("q", 0.5, []),
}


@pytest.fixture
def store(root) -> dict[str, str]:
    """Three finished runs (two in project p, one in q); their ids by name."""
    ids = {}
    for name, (project, lr, tags) in RUNS.items():
        with runlake.init(settings={"root": root}, project=project, name=name, config={"lr": lr, "bs": 64},
                          tags=tags) as run:
            for s in range(STEPS):
                run.log({"loss": lr * (STEPS - s), "acc": s / STEPS})
        ids[name] = run.id
    return ids


def cli(capsys, root: Path | None, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `runlake ARGS --dir ROOT`, run in this process."""
    argv = [*args, "--dir", str(root)] if root is not None else list(args)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def parse_table(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of the CLI's aligned table (columns found from the dash line)."""
    lines = text.rstrip("\n").split("\n")
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    assert lines[1].replace(" ", "").replace("-", "") == ""

    def cut(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in spans]

    header = cut(lines[0])
    return header, [dict(zip(header, cut(line))) for line in lines[2:]]


def assert_one_error_line(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("runlake: error: "), err
    assert fragment in err, err


# -- runs -----------------------------------------------------------------------------------


def test_runs_of_a_project_as_a_table(capsys, root, store):
    code, out, err = cli(capsys, root, "runs", "p")
    assert (code, err) == (0, "")
    header, rows = parse_table(out)
    assert header == ["id", "name", "state", "created_at", "tags", "acc", "loss"]
    assert [r["id"] for r in rows] == [store["second"], store["first"]]  # newest first
    assert [r["name"] for r in rows] == ["second", "first"]
    assert {r["state"] for r in rows} == {"finished"}
    assert [r["tags"] for r in rows] == ["sweep,best", "sweep"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["created_at"]) for r in rows)
    # the summary: the last logged values
    assert [float(r["loss"]) for r in rows] == [pytest.approx(0.01), pytest.approx(0.1)]
    assert [float(r["acc"]) for r in rows] == [0.95, 0.95]


def test_terminal_escapes_in_names_tags_and_values_are_printed_escaped(capsys, root):
    """A run name, tag, key or value can hold escape sequences (written by anyone who can
    write the store): the CLI prints them escaped, so they cannot retitle or clear a terminal."""
    evil = "\x1b]0;pwned\x07\x1b[2J"
    with runlake.init(settings={"root": root}, project="e", name="n" + evil, tags=["t" + evil]) as run:
        run.log({"k" + evil: "v" + evil + "\u202e", "x": 1.0})
    for args in (("runs", "e"), ("history", f"e/{run.id}"),
                 ("sql", "SELECT name, tags FROM runs")):
        code, out, err = cli(capsys, root, *args)
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, (args, out)
        assert "\\x1b" in out or "\\e" in out, (args, out)  # shown, as an escape


def test_runs_of_every_project_have_a_project_column(capsys, root, store):
    code, out, _ = cli(capsys, root, "runs")
    assert code == 0
    header, rows = parse_table(out)
    assert header[:2] == ["project", "id"]
    assert sorted((r["project"], r["id"]) for r in rows) == sorted(
        (f"local/{RUNS[name][0]}", run_id) for name, run_id in store.items())
    code, out, _ = cli(capsys, root, "runs", "--limit", "2")
    assert code == 0 and len(parse_table(out)[1]) == 2


def test_runs_filter_order_and_limit(capsys, root, store):
    code, out, _ = cli(capsys, root, "runs", "local/p", "--filter", '{"config.lr": {"$gt": 0.05}}')
    assert code == 0
    assert [r["id"] for r in parse_table(out)[1]] == [store["first"]]
    code, out, _ = cli(capsys, root, "runs", "p", "--filter", '{"tags": "best"}')
    assert [r["name"] for r in parse_table(out)[1]] == ["second"]
    code, out, _ = cli(capsys, root, "runs", "p", "--order", "+created_at", "--limit", "1")
    assert code == 0 and [r["name"] for r in parse_table(out)[1]] == ["first"]
    # a "-" order as the module's usage writes it (argparse alone takes "-x" for an option)
    code, out, _ = cli(capsys, root, "runs", "p", "--order", "-created_at", "--limit", "1")
    assert code == 0 and [r["name"] for r in parse_table(out)[1]] == ["second"]
    code, out, _ = cli(capsys, root, "runs", "p", "--order", "-config.lr")
    assert [r["name"] for r in parse_table(out)[1]] == ["first", "second"]
    code, out, _ = cli(capsys, root, "runs", "p", "--order=+config.lr")
    assert [r["name"] for r in parse_table(out)[1]] == ["second", "first"]


def test_runs_says_so_when_nothing_matches(capsys, root, store, tmp_path):
    code, out, err = cli(capsys, root, "runs", "p", "--filter", '{"state": "crashed"}')
    assert (code, out) == (0, "")
    assert err.startswith("no runs in p (") and str(root) in err
    code, out, err = cli(capsys, tmp_path / "empty", "runs")
    assert (code, out) == (0, "")
    assert err.startswith("no runs in the store")


def test_store_root_defaults_to_RUNLAKE_DIR(capsys, root, store, monkeypatch):
    monkeypatch.setenv("RUNLAKE_DIR", str(root))
    code, out, _ = cli(capsys, None, "runs", "q")
    assert code == 0 and [r["id"] for r in parse_table(out)[1]] == [store["other"]]


# -- history --------------------------------------------------------------------------------


def test_history_prints_every_row_of_a_short_run(capsys, root, store):
    run_id = store["first"]
    code, out, err = cli(capsys, root, "history", f"p/{run_id}")
    assert (code, err) == (0, "")
    header, rows = parse_table(out)
    assert header == ["_step", "_runtime", "_timestamp", "loss", "acc"]
    assert [int(r["_step"]) for r in rows] == list(range(STEPS))
    assert [float(r["loss"]) for r in rows] == [pytest.approx(0.1 * (STEPS - s))
                                                for s in range(STEPS)]
    assert [float(r["acc"]) for r in rows] == [s / STEPS for s in range(STEPS)]
    # the same through entity/project/run_id
    assert cli(capsys, root, "history", f"local/p/{run_id}")[1] == out


def test_history_keys_and_samples(capsys, root, store):
    run_id = store["second"]
    code, out, _ = cli(capsys, root, "history", f"p/{run_id}", "--keys", "acc", "--samples", "5")
    assert code == 0
    header, rows = parse_table(out)
    assert header == ["_step", "acc"]
    steps = [int(r["_step"]) for r in rows]
    assert 2 <= len(rows) <= 5 and steps[0] == 0 and steps[-1] == STEPS - 1
    assert steps == sorted(set(steps))
    assert all(float(r["acc"]) == int(r["_step"]) / STEPS for r in rows)
    code, out, _ = cli(capsys, root, "history", f"p/{run_id}", "--samples", "0")
    assert code == 0 and len(parse_table(out)[1]) == STEPS


# -- sql ------------------------------------------------------------------------------------


def test_sql_over_runs_and_history(capsys, root, store):
    code, out, err = cli(
        capsys, root, "sql",
        "SELECT r.name, count(*) AS n, max(h.acc) AS best FROM history h"
        " JOIN runs r ON r.id = h.run_id GROUP BY ALL ORDER BY r.name",
    )
    assert (code, err) == (0, "")
    lines = [line for line in out.splitlines() if "│" in line]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in lines]
    assert cells[0] == ["name", "n", "best"]
    assert cells[2:] == [["first", str(STEPS), "0.95"], ["other", str(STEPS), "0.95"],
                         ["second", str(STEPS), "0.95"]]
    code, out, _ = cli(capsys, root, "sql", "SELECT id FROM runs WHERE config.lr = 0.5")
    assert code == 0 and store["other"] in out and store["first"] not in out


# -- export ---------------------------------------------------------------------------------


def test_export_a_project_to_parquet_and_csv(capsys, root, store, tmp_path):
    dest = tmp_path / "out" / "p.parquet"
    code, out, err = cli(capsys, root, "export", "p", str(dest))
    assert (code, out, err) == (0, f"wrote {dest}\n", "")  # not a terminal: no progress bar
    table = pq.read_table(dest)
    assert table.column_names[:6] == ["entity", "project", "run_id",
                                      "_step", "_runtime", "_timestamp"]
    assert set(table.column_names[6:]) == {"loss", "acc"}
    assert table.num_rows == 2 * STEPS
    assert table.column("run_id").to_pylist() == [store["first"]] * STEPS + [
        store["second"]] * STEPS

    csv = tmp_path / "p.csv"
    code, out, _ = cli(capsys, root, "export", "p", str(csv), "--filter", '{"tags": "best"}')
    assert code == 0
    rows = pcsv.read_csv(csv)
    assert set(rows.column("run_id").to_pylist()) == {store["second"]}
    assert rows.column("_step").to_pylist() == list(range(STEPS))

    # one run; a file name without a known suffix with --format
    one = tmp_path / "one.data"
    code, out, _ = cli(capsys, root, "export", f"q/{store['other']}", str(one), "--format", "csv")
    assert code == 0 and out == f"wrote {one}\n"
    assert pcsv.read_csv(one).column("loss").to_pylist() == [
        pytest.approx(0.5 * (STEPS - s)) for s in range(STEPS)]
    assert not list(tmp_path.rglob(".tmp-*"))


# -- errors: one line, exit code 2, never a traceback -----------------------------------------


ERRORS = [
    (["runs", "nope"], "project local/nope not found"),
    (["history", "p/nosuchrun"], "run local/p/nosuchrun not found"),
    (["history", "p/a/b/c"], "must be 'entity/project/run_id' or 'project/run_id'"),
    (["runs", "p", "--filter", "{bad"], "--filter is not valid JSON"),
    (["runs", "p", "--filter", "[1]"], "--filter must be a JSON object"),
    (["runs", "p", "--filter", '{"state": {"$foo": 1}}'], "unknown operator '$foo'"),
    (["runs", "p", "--filter", '{"nofield": 1}'], "unknown field 'nofield'"),
    (["runs", "p", "--order", "nofield"], "unknown field 'nofield'"),
    (["sql", "SELEC 1"], "syntax error"),
    (["sql", "SELECT * FROM nosuchtable"], "nosuchtable does not exist"),
    (["sql", "SELECT CAST('x' AS INT)"], "Could not convert string 'x'"),
    (["export", "p", "out.xyz"], "cannot tell the export format from 'out.xyz'"),
    (["export", "p", "out.parquet", "--format", "xml"], "unknown export format 'xml'"),
    (["export", "nope/nosuchrun", "out.csv"], "neither a project (entity/project) nor a run"),
    (["export", "p", "."], "is a folder"),
    (["export", "p/x", "out.csv", "--filter", '{"state": 1'], "--filter is not valid JSON"),
    (["runs", "../x"], "invalid entity '..'"),
    (["history", "../x"], "invalid project '..'"),
    (["history", "p/../x"], "invalid project '..'"),
    (["export", "../x", "out.csv"], "invalid entity '..'"),
    (["history", "p/bad*id"], "invalid run id 'bad*id'"),
    (["history", "p/x", "--samples", "-1"], "samples must be a positive int"),
]


@pytest.mark.parametrize(("args", "fragment"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_a_user_mistake_is_one_error_line(capsys, root, store, tmp_path, args, fragment):
    if args[:2] == ["history", "p/x"]:
        args = ["history", f"p/{store['first']}", *args[2:]]
    code, out, err = cli(capsys, root, *args)
    assert_one_error_line(code, out, err, fragment)
    assert not list(tmp_path.glob("out.*")) and not list(tmp_path.rglob(".tmp-*"))


def test_argument_mistakes_are_argparse_usage_errors(capsys, root, store):
    code, out, err = cli(capsys, root, "runs", "--limit", "0")
    assert code == 2 and out == "" and "Traceback" not in err
    assert "must be a positive integer, got 0" in err
    code, out, err = cli(capsys, root, "frobnicate")
    assert code == 2 and "invalid choice: 'frobnicate'" in err


# -- demo -----------------------------------------------------------------------------------


def test_demo_logs_runs_and_queries_them(capsys, root):
    code, out, err = cli(capsys, root, "demo", "--runs", "2", "--steps", "30")
    assert code == 0, err
    logged = re.findall(r"^logged local/demo/(\w+) \(([\w-]+)\): lr=[\d.]+, 30 steps$", out, re.M)
    assert len(logged) == 2
    assert f"store: {root}" in out
    for _, name in logged:  # the demo's query: one row per run, with its 30 steps
        assert re.search(rf"│ {re.escape(name)}\s+│\s+[\d.]+\s+│\s+30 │", out), out
    api = runlake.Api(root=root)
    runs = api.runs("demo")
    assert sorted(r.id for r in runs) == sorted(run_id for run_id, _ in logged)
    assert all(r.history(samples=None, format="arrow").num_rows == 30 for r in runs)


# -- the progress bar of export ----------------------------------------------------------------


class TTY(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class SlowClock:
    """`time` for export.py where every reading is a second after the last: a slow export."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


class FrozenClock:
    """`time` for export.py where no time passes: a quick export."""

    @staticmethod
    def monotonic() -> float:
        return 0.0


def test_progress_draws_on_a_terminal_only():
    tty = TTY()
    bar = export_module._Progress(1000, 2, tty, interval=0, delay=0)
    bar.add(rows=500)
    bar.add(runs=1)
    bar.close()
    text = tty.getvalue()
    assert text.startswith("\rexporting [" + "#" * 15 + "." * 15 + "] 500/1,000 rows, 0/2 runs")
    assert text.endswith("\rexporting [" + "#" * 15 + "." * 15 + "] 500/1,000 rows, 1/2 runs\n")

    plain = io.StringIO()  # a file or pipe: never a bar
    bar = export_module._Progress(1000, 2, plain, interval=0, delay=0)
    bar.add(rows=1000, runs=2)
    bar.close()
    assert plain.getvalue() == ""


def test_progress_waits_for_its_delay(monkeypatch):
    monkeypatch.setattr(export_module, "time", FrozenClock)
    tty = TTY()
    bar = export_module._Progress(1000, 1, tty)  # default delay: a quick export prints nothing
    bar.add(rows=1000, runs=1)
    bar.close()
    assert tty.getvalue() == ""


def test_export_draws_a_progress_bar_when_stderr_is_a_terminal(capsys, root, store, tmp_path,
                                                              monkeypatch):
    monkeypatch.setattr(export_module, "time", SlowClock())
    dest = tmp_path / "p.parquet"
    code, out, err = cli(capsys, root, "export", "p", str(dest))  # stderr captured: no tty
    assert (code, out, err) == (0, f"wrote {dest}\n", "")

    tty = TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    code, out, _ = cli(capsys, root, "export", "p", str(dest))
    assert code == 0 and out == f"wrote {dest}\n"
    drawn = tty.getvalue()
    assert drawn.startswith("\rexporting [")
    total = 2 * STEPS
    assert drawn.endswith(f"\rexporting [{'#' * 30}] {total}/{total} rows, 2/2 runs\n")
    assert pq.read_metadata(dest).num_rows == total


# -- real processes -------------------------------------------------------------------------


def process_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["HOME"] = str(tmp_path / "home")
    return env


def console_script() -> str:
    found = shutil.which("runlake", path=str(Path(sys.executable).parent))
    assert found, f"the runlake console script is not installed beside {sys.executable}"
    return found


@pytest.mark.slow
def test_the_installed_console_script(root, store, tmp_path):
    env = process_env(tmp_path)
    proc = subprocess.run([console_script(), "runs", "p", "--dir", str(root)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert [r["id"] for r in parse_table(proc.stdout)[1]] == [store["second"], store["first"]]

    proc = subprocess.run([console_script(), "runs", "p", "--filter", '{"state": {"$foo": 1}}',
                           "--dir", str(root)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert_one_error_line(proc.returncode, proc.stdout, proc.stderr, "unknown operator '$foo'")

    # python -m runlake is the same command; RUNLAKE_DIR picks the store
    proc = subprocess.run([sys.executable, "-m", "runlake", "sql",
                           "SELECT count(*) AS n FROM history"],
                          env={**env, "RUNLAKE_DIR": str(root)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"│\s+{3 * STEPS}\s+│", proc.stdout), proc.stdout


@pytest.mark.slow
def test_output_into_a_closed_pipe_ends_quietly(root, tmp_path):
    with runlake.init(settings={"root": root}, project="long") as run:
        for s in range(20_000):  # far more output than a pipe holds
            run.log({"x": s})
    proc = subprocess.Popen([console_script(), "history", f"long/{run.id}", "--samples", "0",
                             "--dir", str(root)], env=process_env(tmp_path), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().split() == [b"_step", b"_runtime", b"_timestamp", b"x"]
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) in (0, 1)
    assert err == ""


# Runs the CLI with export.py's clock made slow, so a small export takes "long enough".
SLOW_EXPORT = """
    import sys
    import runlake.query.export as export

    class SlowClock:
        now = 0.0

        @classmethod
        def monotonic(cls):
            cls.now += 1.0
            return cls.now

    export.time = SlowClock
    from runlake.cli.commands import main

    sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_export_progress_on_a_real_terminal(root, store, tmp_path):
    import pty

    args = [sys.executable, "-c", textwrap.dedent(SLOW_EXPORT), "export", "p",
            str(tmp_path / "p.csv"), "--dir", str(root)]
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, env=process_env(tmp_path), cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = -1
        drawn = b""
        while True:  # the terminal's output, until the process closes it
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: no process holds the terminal any more
                break
            if not chunk:
                break
            drawn += chunk
        out = proc.stdout.read().decode()
        assert proc.wait(timeout=300) == 0, drawn
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    total = 2 * STEPS
    assert out == f"wrote {tmp_path / 'p.csv'}\n"
    text = drawn.decode()
    assert text.startswith("\rexporting [") and "Traceback" not in text
    assert f"\rexporting [{'#' * 30}] {total}/{total} rows, 2/2 runs" in text
    assert text.endswith("\n")

    # the same export with stderr into a pipe: no bar at all
    proc = subprocess.run(args, env=process_env(tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert len(pcsv.read_csv(tmp_path / "p.csv").column("_step")) == total


def test_gc_deletes_unreferenced_artifact_objects(capsys, root):
    from runlake.engine.objects import ObjectStore

    objects = ObjectStore(root)
    objects.put_bytes(b"nobody uses me")
    code, out, _ = cli(capsys, root, "gc", "--grace", "0")
    assert code == 0 and "removed 1 unreferenced object(s), 14 bytes" in out
    assert not [p for p in objects.dir.rglob("*") if p.is_file()]


def test_history_of_the_system_stream(capsys, root):
    from tests.helpers import wait_for

    run = runlake.init(project="s", settings=runlake.Settings(root=root, 
        system_metrics_interval=0.02, console="off"))
    wait_for("a few samples", lambda: sum(
        f.stat().st_size for f in run._paths.system_wal_dir.glob("*.arrows")) > 0, 60)
    run.finish()
    code, out, _ = cli(capsys, root, "history", f"s/{run.id}", "--stream", "system",
                       "--keys", "system.memory_percent", "--samples", "0")
    assert code == 0
    header, rows = parse_table(out)
    assert header == ["_timestamp", "_runtime", "system.memory_percent"]
    assert len(rows) >= 2 and all(0 < float(r["system.memory_percent"]) <= 100 for r in rows)

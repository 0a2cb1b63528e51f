"""Many processes writing one store while another reads it, and log() taking no lock or file.

Writers are real processes, each logging its own run (16 independent runs; then the 8 ranks
of one distributed job under one `group`) into one store, with small segments so that WAL
files are compacted into Parquet while the reader reads. The reader is another process that
queries the store in a loop (`Api.sql` over `history`, `Api.history` as polars) and fails on
any error, on a run whose rows are not a gapless prefix of its steps with the logged values
(a partial or doubled segment would show here), or on a count that goes down. The phases are
sequenced by messages, not by sleeps: every writer logs HALF steps and waits; the reader must
see all those rows; then the writers log HALF more while the reader makes READS more rounds,
and wait again until the reader has seen those; then they log a last HALF and finish, and
the reader must see every row. So the reader sees at least three totals, however slow the
machine is (it once saw only two, when writers ran free to a step limit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import runlake
from tests import helpers

T = TypeVar("T")
DEADLINE = 300.0  # seconds any one wait may take before the test fails (2 cores, 17 processes)
HALF = 1500  # steps every writer logs per phase (three phases)
READS = 5  # reader rounds while every writer is logging its second part
SEGMENT_BYTES = 32 * 1024  # a few segments per run: compactions happen while the reader reads

# argv: root project run_id group half segment_bytes. Prints "ready" after init, "half" once
# its first `half` steps are durable; on a line ("go") logs `half` more and prints "more" once
# durable; on a second line ("stop") logs a last `half`, finishes, and prints "done <steps>".
WRITER = """
    import sys, threading, time
    import runlake

    root, project, run_id, group, half, segment_bytes = sys.argv[1:]
    half = int(half)
    go, stop = threading.Event(), threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), go.set(), sys.stdin.readline(),
                                     stop.set()), daemon=True).start()
    settings = runlake.Settings(wal_interval=0.05, segment_bytes=int(segment_bytes))
    run = runlake.init(project=project, id=run_id, settings=settings.replace(root=root),
                       group=None if group == "-" else group,
                       job_type="train" if group != "-" else None, config={"run": run_id})
    print("ready", flush=True)
    step = 0
    while step < 3 * half:
        if step == half:
            assert run._flush(120), "the first part did not become durable"
            print("half", flush=True)
            go.wait()
        elif step == 2 * half:
            assert run._flush(120), "the second part did not become durable"
            print("more", flush=True)
            stop.wait()
        run.log({"loss": step / 2, "i": step, "phase": "a" if step < half else "b"})
        step += 1
        if step % 5 == 0:
            time.sleep(0.001)  # a training step takes a while
    run.finish()
    print("done", step, flush=True)
"""

# argv: root projects(comma-separated) out.jsonl. Queries until a line arrives on stdin; writes
# one JSON line per round; exits 1 with a traceback on any error or inconsistency.
READER = """
    import json, sys, threading
    import polars as pl
    import runlake

    root, projects, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    api = runlake.Api(root)
    last = {"sql": 0, "polars": 0}
    last_run: dict[str, int] = {}
    rounds = 0
    with open(out, "a", encoding="utf-8") as sink:
        while not stop.is_set():
            if rounds % 5 == 4:
                api = runlake.Api(root)  # a new reader, no caches, now and then
            total = api.sql("SELECT count(*) FROM history").fetchall()[0][0]
            per_run = api.sql(
                "SELECT run_id, count(*), min(_step), max(_step), count(DISTINCT _step),"
                " count(*) FILTER (WHERE loss != _step / 2 OR i != _step) FROM history"
                " GROUP BY run_id"
            ).fetchall()
            runs = {}
            for run_id, n, lo, hi, distinct, bad in per_run:
                # every run's rows: steps 0..n-1, each once, with the values logged
                assert (lo, hi, distinct, bad) == (0, n - 1, n, 0), (run_id, n, lo, hi, distinct, bad)
                assert n >= last_run.get(run_id, 0), ("went down", run_id, n, last_run)
                runs[run_id] = n
            polars_total = sum(
                api.history(p).select(pl.len()).collect().item() for p in projects
            )
            assert total >= last["sql"], ("sql count went down", total, last)
            assert polars_total >= last["polars"], ("polars count went down", polars_total, last)
            last = {"sql": total, "polars": polars_total}
            last_run.update(runs)
            rounds += 1
            sink.write(json.dumps({"sql": total, "polars": polars_total, "runs": runs}) + "\\n")
            sink.flush()
    print(rounds, flush=True)
"""


def wait_for(what: str, probe: Callable[[], T]) -> T:
    return helpers.wait_for(what, probe, DEADLINE, 0.05)


class Procs:
    """The processes of one test; all killed at the end if a failure left any running."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
        self.env["HOME"] = str(tmp_path / "home")
        self.started: list[tuple[subprocess.Popen[str], Any]] = []

    def start(self, name: str, source: str, *args: object) -> subprocess.Popen[str]:
        script = self.tmp / f"{name.split('-')[0]}.py"
        if not script.exists():
            script.write_text(textwrap.dedent(source), encoding="utf-8")
        stderr = open(self.tmp / f"{name}.stderr", "w", encoding="utf-8")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, str(script), *map(str, args)], cwd=self.tmp, env=self.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )
        proc.name = name  # type: ignore[attr-defined]
        self.started.append((proc, stderr))
        return proc

    def stderr(self, proc: subprocess.Popen[str]) -> str:
        return (self.tmp / f"{proc.name}.stderr").read_text(encoding="utf-8")  # type: ignore[attr-defined]

    def expect(self, proc: subprocess.Popen[str], line: str) -> None:
        got = proc.stdout.readline().strip()
        assert got == line, f"{proc.name} said {got!r}, not {line!r}: {self.stderr(proc)}"  # type: ignore[attr-defined]

    def tell(self, proc: subprocess.Popen[str], line: str = "go") -> None:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    def finish(self, proc: subprocess.Popen[str]) -> str:
        out, _ = proc.communicate(timeout=DEADLINE)
        err = self.stderr(proc)
        assert proc.returncode == 0, f"{proc.name} exited {proc.returncode}: {err}"  # type: ignore[attr-defined]
        assert "Traceback" not in err and "Warning" not in err, err
        return out

    def close(self) -> None:
        for proc, stderr in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stderr.close()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    yield p
    p.close()


def observations(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def run_writers_with_a_reader(procs: Procs, root: Path, runs: list[tuple[str, str, str]],
                              projects: list[str]) -> dict[str, int]:
    """Start a writer per (project, run_id, group) and a reader; sequence them; return the
    steps each run logged. Every process must exit 0 without a warning."""
    writers = [procs.start(f"writer-{run_id}", WRITER, root, project, run_id, group, HALF,
                           SEGMENT_BYTES) for project, run_id, group in runs]
    for w in writers:
        procs.expect(w, "ready")
    seen = procs.tmp / "reader.jsonl"
    reader = procs.start("reader", READER, root, ",".join(projects), seen)
    for w in writers:
        procs.expect(w, "half")
    half = len(runs) * HALF

    def reader_saw(test: Callable[[dict[str, Any]], bool]) -> Callable[[], bool]:
        def probe() -> bool:
            assert reader.poll() is None, f"the reader failed: {procs.stderr(reader)}"
            return any(test(o) for o in observations(seen))
        return probe

    wait_for("the reader to see every first half", reader_saw(lambda o: o["sql"] >= half))
    for w in writers:  # all go on at once, while the reader keeps reading
        procs.tell(w, "go")
    rounds_before = len(observations(seen))
    wait_for(f"{READS} reader rounds while they log",
             lambda: len(observations(seen)) >= rounds_before + READS
             or any(w.poll() is not None for w in writers))
    for w in writers:
        procs.expect(w, "more")
    wait_for("the reader to see every second part", reader_saw(lambda o: o["sql"] >= 2 * half))
    for w in writers:  # the last part, while the reader keeps reading
        procs.tell(w, "stop")
    steps = {}
    for (_, run_id, _), w in zip(runs, writers):
        out = procs.finish(w).split()
        assert out[0] == "done", out
        steps[run_id] = int(out[1])
    total = sum(steps.values())
    wait_for("the reader to see every row",
             reader_saw(lambda o: o["sql"] == total and o["polars"] == total))
    procs.tell(reader, "stop")
    rounds = int(procs.finish(reader).split()[-1])
    seen_all = observations(seen)
    assert rounds == len(seen_all)
    # It read while they wrote: it saw the halves, then counts in between, then everything.
    counts = [o["sql"] for o in seen_all]
    assert counts == sorted(counts) and counts[-1] == total
    assert [o["polars"] for o in seen_all] == sorted(o["polars"] for o in seen_all)
    assert len(set(counts)) >= 3  # the halves, counts while they logged, everything
    assert all(n == 3 * HALF for n in steps.values()), steps
    return steps


def check_store(root: Path, runs: list[tuple[str, str, str]], steps: dict[str, int]) -> runlake.Api:
    api = runlake.Api(root)
    for project, run_id, _ in runs:
        run, n = api.run(f"{project}/{run_id}"), steps[run_id]
        assert run.state == "finished" and run.exit_code == 0, (run_id, run.state)
        frame = run.history(samples=None, format="polars")
        assert frame["_step"].to_list() == list(range(n)), run_id
        assert frame["loss"].to_list() == [s / 2 for s in range(n)], run_id
        assert frame["phase"].to_list() == ["a"] * HALF + ["b"] * (n - HALF)
        assert run.summary["i"] == n - 1
    assert not list(root.glob("runs/*/*/*/wal/*.arrows"))  # all compacted
    assert not list(root.glob("history/**/.tmp-*"))
    return api


@pytest.mark.slow
def test_sixteen_processes_log_sixteen_runs_into_one_store_while_one_reads(root, procs):
    runs = [("solo", f"run-{k:02d}", "-") for k in range(16)]
    steps = run_writers_with_a_reader(procs, root, runs, ["solo"])
    api = check_store(root, runs, steps)
    assert api.sql("SELECT count(*), count(DISTINCT run_id) FROM history").fetchall() == [
        (sum(steps.values()), 16)]
    assert sorted(r.id for r in api.runs("solo")) == [r for _, r, _ in runs]


@pytest.mark.slow
def test_eight_ranks_of_one_distributed_job_log_under_one_group(root, procs):
    runs = [("dist", f"job7-rank{r}", "job-7") for r in range(8)]
    steps = run_writers_with_a_reader(procs, root, runs, ["dist"])
    api = check_store(root, runs, steps)
    grouped = api.runs("dist", filters={"group": "job-7"})
    assert sorted(r.id for r in grouped) == [r for _, r, _ in runs]
    assert {(r.group, r.job_type, r.state) for r in grouped} == {("job-7", "train", "finished")}
    assert api.sql(
        "SELECT count(*) FROM history h JOIN runs r ON h.run_id = r.id WHERE r.\"group\" = ?",
        ["job-7"],
    ).fetchall() == [(sum(steps.values()),)]


# -- no file and no lock on the log() path ---------------------------------------------------

_ARMED: list[int] = []  # the thread id whose filesystem/lock events are recorded
_EVENTS: list[tuple[str, Any]] = []
_WATCHED = ("open", "os.", "fcntl.", "shutil.", "glob.", "socket.", "subprocess.", "mmap.")


def _audit(event: str, args: Any) -> None:
    if _ARMED and threading.get_ident() == _ARMED[0] and event.startswith(_WATCHED):
        _EVENTS.append((event, args))


_hooked = False


def _watch_log_thread() -> None:
    global _hooked
    if not _hooked:  # audit hooks can't be removed: one, armed only inside the test below
        sys.addaudithook(_audit)
        _hooked = True


def test_log_opens_no_file_and_takes_no_lock(root, monkeypatch):
    """A code-level check that log() can't wait on another process: with the writer thread
    parked, a burst of log() calls of every kind (fast path, new keys, nested dicts, arrays,
    step=, commit=False, a refused value) triggers no filesystem or fcntl audit event, and no
    call of the os/fcntl functions that have none (stat, write, fsync, lockf, flock)."""
    run = runlake.init(settings={"root": root})
    writer = run._writer
    parked, resume = threading.Event(), threading.Event()
    real_cycle = writer._cycle

    def cycle(final: bool) -> None:
        if not resume.is_set():
            parked.set()
            resume.wait()
        real_cycle(final)

    monkeypatch.setattr(writer, "_cycle", cycle)
    try:
        _log_burst(run, root, parked, monkeypatch)
    finally:
        resume.set()  # a failure must not leave finish() waiting on a parked writer
    run.finish()
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    # 5 rows between the bursts: the refused call logs none
    assert frame.height == 20_000 + 5 + 1000 and frame["loss"][19_999] == 19_999 / 2


def _log_burst(run: runlake.Run, root: Path, parked: threading.Event,
               monkeypatch: pytest.MonkeyPatch) -> None:
    assert parked.wait(DEADLINE)
    _watch_log_thread()
    import fcntl

    called: list[str] = []

    def spy_on(m: pytest.MonkeyPatch, module: Any, name: str) -> None:
        real = getattr(module, name)

        def spy(*args: Any, **kwargs: Any) -> Any:
            # Only the logging thread: the system sampler and console threads do I/O by design.
            if _ARMED and threading.get_ident() == _ARMED[0]:
                called.append(f"{module.__name__}.{name}")
            return real(*args, **kwargs)

        m.setattr(module, name, spy)

    with monkeypatch.context() as m:
        for module, name in [(os, "stat"), (os, "lstat"), (os, "write"), (os, "fsync"),
                             (os, "open"), (fcntl, "lockf"), (fcntl, "flock"), (fcntl, "fcntl")]:
            spy_on(m, module, name)
        _EVENTS.clear()
        _ARMED.append(threading.get_ident())
        try:
            for i in range(20_000):  # the fast path
                run.log({"loss": i / 2, "acc": 0.5})
            run.log({"new": 1, "nested": {"a": {"b": 2.0}}, "text": "x" * 1000})
            run.log({"arr": np.arange(5), "strs": ["a", "b"], "none": None, "f32": np.float32(1)})
            run.log({"x": 1.0}, commit=False)
            run.log({"y": 2.0}, step=run.step + 10)
            run.log({"z": 3.0}, step=run.step + 1, commit=True)
            with pytest.raises(runlake.InvalidValueError):
                run.log({"ok": 1.0, "bad": object()})
            for i in range(1000):  # alternating shapes: the slow path every time
                run.log({"train/loss": float(i)} if i % 2 else {"val/loss": float(i), "n": i})
            events, spied = list(_EVENTS), list(called)
            with open(os.devnull, "rb"):  # the control: these are seen
                os.stat(root.parent)
            fd = os.open(os.devnull, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            control_called = list(called)
        finally:
            _ARMED.clear()
        control, _EVENTS[:] = [e for e, _ in _EVENTS], []
    assert events == [] and spied == [], (events[:5], spied[:5])
    assert {"open", "fcntl.flock"} <= set(control), control
    assert {"os.stat", "os.open", "fcntl.flock"} <= set(control_called), control_called

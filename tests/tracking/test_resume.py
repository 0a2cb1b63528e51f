"""init(resume=...), init(resume_from=...) and init(fork_from=...): continuing, rewinding and
forking runs, through the real write path, read back with plain pyarrow and runlake.Api."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import runlake

from tests import helpers
from tests.helpers import rows

# Logs `n` steps to run `id`, makes them durable, says so, then waits to be killed.
_LOGGER = """
import sys, time
import runlake
root, run_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = runlake.init(settings={"root": root}, id=run_id, config={"lr": 0.1}, tags=["t"])
run.define_metric("loss", summary="min,max")
for i in range(n):
    run.log({"loss": float(n - i), "phase": "train"})
assert run._flush(timeout=120)
print("logged", flush=True)
time.sleep(600)
"""


class Logger:
    """A logging process holding run `run_id` live, until `kill()` (SIGKILL)."""

    def __init__(self, root: Path, run_id: str, n: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _LOGGER, str(root), run_id, str(n)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "logged":
            self.kill()
            raise AssertionError(f"the logging process did not start: {line!r}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()


def meta(root: Path, run_id: str, project: str = "uncategorized") -> dict:
    return helpers.run_json(root, run_id, project=project)


def run_dir(root: Path, run_id: str, part: str = "runs") -> Path:
    return root / part / "entity=local" / "project=uncategorized" / f"run_id={run_id}"


def log_run(root: Path, run_id: str, steps: int, **init) -> None:
    with runlake.init(settings={"root": root}, id=run_id, **init) as run:
        for i in range(steps):
            run.log({"loss": float(i), "i": i})


def full_history(root: Path, run_id: str):
    api = runlake.Api(root=str(root))
    return api.run(f"local/uncategorized/{run_id}").history(samples=None, format="arrow")


def digest(*folders: Path) -> dict[str, str]:
    """Every file under the folders with a hash of its bytes (but a live writer's `.tmp-*`
    segment, which it streams into and no reader reads)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".tmp-")}


# -- the resume modes --------------------------------------------------------------------------

def test_allow_starts_a_missing_run_then_resumes_it(root):
    with runlake.init(settings={"root": root}, id="r1", resume="allow") as run:
        assert not run.resumed and run.starting_step == 0
        run.log({"loss": 0.5})
        run.log({"loss": 0.4})
    with runlake.init(settings={"root": root}, id="r1", resume="allow") as run:
        assert run.resumed
        assert run.starting_step == run.step == 2
        run.log({"loss": 0.3})
    assert rows(root) == [{"_step": 0, "loss": 0.5}, {"_step": 1, "loss": 0.4},
                          {"_step": 2, "loss": 0.3}]
    assert meta(root, "r1")["state"] == "finished"


def test_must_resumes_an_existing_run_and_refuses_a_missing_one(root):
    log_run(root, "r1", 3)
    with pytest.raises(runlake.RunNotFoundError, match="resume='allow'"):
        runlake.init(settings={"root": root}, id="nope", resume="must")
    assert not run_dir(root, "nope").exists() and runlake.run is None
    with pytest.raises(runlake.UsageError, match="needs the id"):
        runlake.init(settings={"root": root}, resume="must")
    with runlake.init(settings={"root": root}, id="r1", resume="must") as run:
        assert run.resumed and run.step == 3


def test_never_refuses_an_existing_run_and_starts_a_missing_one(root):
    log_run(root, "r1", 1)
    before = digest(root)
    with pytest.raises(runlake.RunExistsError, match="resume='never'"):
        runlake.init(settings={"root": root}, id="r1", resume="never")
    assert digest(root) == before
    with runlake.init(settings={"root": root}, id="r2", resume="never") as run:
        assert not run.resumed


def test_a_new_run_with_an_existing_id_is_still_refused(root):
    log_run(root, "r1", 1)
    with pytest.raises(runlake.RunExistsError, match="resume='allow'"):
        runlake.init(settings={"root": root}, id="r1")


@pytest.mark.parametrize("resume", ["auto", True])
def test_auto_resumes_the_run_that_did_not_finish_cleanly_here(root, resume):
    with runlake.init(settings={"root": root}, resume=resume) as run:
        first = run.id
        run.log({"loss": 1.0})
        run.finish(exit_code=1)  # failed: a candidate for auto-resume, as in wandb
    with runlake.init(settings={"root": root}, resume=resume) as run:
        assert run.id == first and run.resumed and run.step == 1
        run.log({"loss": 0.5})
    # That one exited with 0: the next auto run is a new one.
    with runlake.init(settings={"root": root}, resume=resume) as run:
        assert run.id != first and not run.resumed
    assert rows(root, first) == [{"_step": 0, "loss": 1.0}, {"_step": 1, "loss": 0.5}]


def test_auto_is_per_working_directory_and_an_explicit_id_wins(root, tmp_path, monkeypatch):
    run = runlake.init(settings={"root": root}, resume="auto")
    left = run.id
    run.finish(exit_code=2)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with runlake.init(settings={"root": root}, resume="auto") as other:
        assert other.id != left and not other.resumed
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match=f"unfinished run {left}"):
        run = runlake.init(settings={"root": root}, resume="auto", id="given")
    assert run.id == "given" and not run.resumed
    run.finish()


def test_disabled_mode_ignores_resume(root):
    with runlake.init(settings={"root": root}, mode="disabled", id="r1", resume="must") as run:
        assert not run.resumed and run.starting_step == 0
    assert not root.exists()


def test_resume_from_the_environment(root, monkeypatch):
    log_run(root, "envrun", 2)
    monkeypatch.setenv("WANDB_RESUME", "must")
    monkeypatch.setenv("RUNLAKE_RUN_ID", "envrun")
    with runlake.init(settings={"root": root}) as run:
        assert run.id == "envrun" and run.resumed and run.step == 2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"resume": "sometimes"}, runlake.ResumeError, "'allow', 'must', 'never', 'auto'"),
    ({"resume": "allow", "fork_from": "a?_step=1"}, runlake.UsageError, "one of"),
    ({"resume_from": "a?_step=1", "fork_from": "a?_step=1"}, runlake.UsageError, "one of"),
    ({"resume_from": "a?_step=1", "id": "b"}, runlake.UsageError, "leave out id"),
])
def test_conflicting_or_unknown_arguments(root, kwargs, error, match):
    with pytest.raises(error, match=match):
        runlake.init(settings={"root": root}, **kwargs)
    assert not root.exists()


@pytest.mark.parametrize("arg", ["resume_from", "fork_from"])
@pytest.mark.parametrize("spec", [
    "r1", "r1?", "r1?_step", "r1?_step=", "?_step=3", "r1?step=3", "r1?_step=3&x=1",
    "r1?_step=1.5", "r1?_step=1e3", "r1?_step= 3", "r1?_step=-1", "../x?_step=1", 3, b"r1?_step=1",
])
def test_step_specs_are_checked_strictly(root, arg, spec):
    log_run(root, "r1", 5)
    before = digest(root)
    with pytest.raises(runlake.Error) as info:
        runlake.init(settings={"root": root}, **{arg: spec})
    assert isinstance(info.value, ValueError)
    assert digest(root) == before and runlake.run is None


@pytest.mark.parametrize("arg", ["resume_from", "fork_from"])
def test_a_step_beyond_the_run_or_a_run_without_steps_is_refused(root, arg):
    log_run(root, "r1", 5)
    log_run(root, "empty", 0)
    before = digest(root)
    with pytest.raises(runlake.ResumeError, match="ends at step 4; step 5 is beyond"):
        runlake.init(settings={"root": root}, **{arg: "r1?_step=5"})
    with pytest.raises(runlake.ResumeError, match="no logged steps"):
        runlake.init(settings={"root": root}, **{arg: "empty?_step=0"})
    with pytest.raises(runlake.RunNotFoundError):
        runlake.init(settings={"root": root}, **{arg: "missing?_step=0"})
    assert digest(root) == before and runlake.run is None


# -- what a resumed run continues ------------------------------------------------------------

def test_resume_continues_config_summary_metrics_and_identity(root):
    with runlake.init(settings={"root": root}, id="r1", config={"lr": 0.1, "opt": {"name": "adam"}},
                      name="first", tags=["a"], notes="n", group="g") as run:
        run.define_metric("loss", summary="min,max,mean")
        run.define_metric("val/*", step_metric="epoch")
        for i, loss in enumerate([3.0, 1.0, 2.0]):
            run.log({"loss": loss, "epoch": i, "phase": "train", "count": i})
        run.summary["best_model"] = "ckpt-1"
        created = meta(root, "r1")["created_at"]
    last_runtime = helpers.history(root)["_runtime"][-1].as_py()

    run = runlake.init(settings={"root": root}, id="r1", resume="must", config={"lr": 0.1, "bs": 8})
    assert meta(root, "r1")["state"] == "running"
    assert dict(run.config) == {"lr": 0.1, "opt": {"name": "adam"}, "bs": 8}
    assert (run.name, run.tags, run.notes, run.group) == ("first", ("a",), "n", "g")
    assert run.summary["loss"] == {"min": 1.0, "max": 3.0, "mean": 2.0}
    assert run.summary["best_model"] == "ckpt-1" and run.summary["phase"] == "train"
    run.log({"loss": 0.5, "phase": 7.0, "count": 2.5})  # a float under a str key and an int key
    run.log({"val/acc": 0.9})  # its step metric is synced from the last value before resume
    run.finish()

    assert run.summary["loss"] == {"min": 0.5, "max": 3.0, "mean": 6.5 / 4}
    assert run.summary["phase"] == 7.0 and run.summary["epoch"] == 2
    got = rows(root)
    assert [r["_step"] for r in got] == [0, 1, 2, 3, 4]
    assert got[3] == {"_step": 3, "loss": 0.5, "phase@number": 7.0, "count": 2.5}
    assert got[4] == {"_step": 4, "val/acc": 0.9, "epoch": 2}
    # The widened int column has one type in every segment after finish (FORMAT.md).
    files = sorted(run_dir(root, "r1", "history").glob("part-*.parquet"))
    assert len(files) >= 2
    assert {str(pq.read_schema(f).field("count").type) for f in files
            if "count" in pq.read_schema(f).names} == {"double"}
    stored = meta(root, "r1")
    assert stored["created_at"] == created and stored["state"] == "finished"
    assert [m["name"] for m in stored["metrics"]] == ["loss", "val/*"]
    runtimes = helpers.history(root)["_runtime"].to_pylist()
    assert runtimes == sorted(runtimes) and runtimes[3] >= last_runtime


def test_changing_a_stored_config_value_needs_allow_val_change(root):
    log_run(root, "r1", 1, config={"lr": 0.1})
    with pytest.raises(runlake.ConfigError, match="allow_val_change"):
        runlake.init(settings={"root": root}, id="r1", resume="must", config={"lr": 0.2})
    assert runlake.run is None
    with runlake.init(settings={"root": root}, id="r1", resume="must", config={"lr": 0.2},
                      allow_val_change=True) as run:
        assert run.config.lr == 0.2
    assert meta(root, "r1")["config"] == {"lr": 0.2}


def test_a_summary_deleted_or_overridden_by_hand_stays_so(root):
    with runlake.init(settings={"root": root}, id="r1") as run:
        run.define_metric("acc", summary="max")
        run.log({"loss": 1.0, "acc": 0.5, "tmp": 1})
        del run.summary["tmp"]
        run.summary["acc"] = 0.99  # a value set by hand wins over the aggregate
    with runlake.init(settings={"root": root}, id="r1", resume="must") as run:
        assert "tmp" not in run.summary
        assert run.summary["acc"] == 0.99 and run.summary["loss"] == 1.0


@pytest.mark.slow
def test_resume_after_sigkill_recovers_the_wal_and_continues(root):
    logger = Logger(root, "killed", 50)
    logger.kill()
    assert meta(root, "killed")["state"] == "running"  # nobody said otherwise: it was killed
    assert list(run_dir(root, "killed").joinpath("wal").glob("*.arrows"))

    with runlake.init(settings={"root": root}, id="killed", resume="allow") as run:
        assert run.resumed and run.step == run.starting_step == 50
        assert meta(root, "killed")["state"] == "running"
        assert not list(run_dir(root, "killed").joinpath("wal").glob("*.arrows"))
        assert run.summary["loss"] == {"min": 1.0, "max": 50.0}
        assert dict(run.config) == {"lr": 0.1} and run.tags == ("t",)
        for i in range(5):
            run.log({"loss": 0.5 - i / 10})
    history = full_history(root, "killed")
    assert history["_step"].to_pylist() == list(range(55))
    assert history["loss"].to_pylist() == [float(50 - i) for i in range(50)] + [
        0.5 - i / 10 for i in range(5)]
    assert meta(root, "killed")["summary"]["loss"] == {"min": 0.5 - 4 / 10, "max": 50.0}


@pytest.mark.slow
def test_a_run_live_in_another_process_is_never_taken(root):
    logger = Logger(root, "live", 10)
    try:
        # (not run.json: the live writer may write a heartbeat into it meanwhile)
        parent = (run_dir(root, "live", "history"), run_dir(root, "live") / "wal")
        before = digest(*parent)
        for kwargs in ({}, {"resume": "allow"}, {"resume": "must"}, {"resume": "auto"},
                       {"resume": "never"}, {"resume_from": "live?_step=3"}):
            with pytest.raises(runlake.RunInUseError, match="another process"):
                runlake.init(settings={"root": root}, id=None if "resume_from" in kwargs else "live", **kwargs)
            assert runlake.run is None
        # Forking only reads the parent: a live one is fine, and stays untouched.
        with runlake.init(settings={"root": root}, fork_from="live?_step=4") as fork:
            fork.log({"loss": 0.0})
        assert digest(*parent) == before
        assert full_history(root, fork.id)["loss"].to_pylist() == [10.0, 9.0, 8.0, 7.0, 6.0,
                                                                   0.0]
    finally:
        logger.kill()


# -- rewind (resume_from) ----------------------------------------------------------------------

def _three_segments(root: Path, run_id: str) -> list[dict]:
    """A run of steps 0..8 in three segments (a new key starts a segment)."""
    with runlake.init(settings={"root": root}, id=run_id) as run:
        run.define_metric("loss", summary="max")
        for i in range(9):
            row = {"loss": float(i)}
            row[f"k{i // 3}"] = i  # k0 at 0-2, k1 at 3-5, k2 at 6-8
            run.log(row)
            if i % 3 == 2:
                assert run._flush(timeout=60)
    assert len(list(run_dir(root, run_id, "history").glob("part-*.parquet"))) == 3
    return rows(root, run_id)


@pytest.mark.parametrize("n", [0, 3, 4, 5, 8])
def test_resume_from_sets_later_rows_aside_and_continues_at_the_next_step(root, n):
    original = _three_segments(root, "r1")
    with runlake.init(settings={"root": root}, resume_from=f"r1?_step={n}") as run:
        assert run.id == "r1" and run.resumed and run.step == run.starting_step == n + 1
        assert run.summary["loss"] == {"max": float(n)}
        run.log({"loss": -1.0})
    got = rows(root, "r1")
    assert got == original[: n + 1] + [{"_step": n + 1, "loss": -1.0}]
    assert [r["_step"] for r in full_history(root, "r1").to_pylist()] == list(range(n + 2))
    # Nothing was destroyed: the rows after n are whole Parquet files under rewound/<stamp>/.
    if n == 8:  # nothing after the last step: nothing set aside
        assert not run_dir(root, "r1").joinpath("rewound").exists()
        return
    [stamp] = run_dir(root, "r1").joinpath("rewound").iterdir()
    aside = pa.concat_tables([pq.read_table(p) for p in sorted(stamp.glob("part-*.parquet"))],
                             promote_options="permissive").to_pylist()
    aside = [{k: v for k, v in r.items() if v is not None and k not in ("_runtime", "_timestamp")}
             for r in aside]
    assert aside == original[n + 1:]
    assert meta(root, "r1")["summary"]["loss"] == {"max": float(n)}


def test_rewinding_twice_keeps_each_rewind_aside(root):
    original = _three_segments(root, "r1")
    with runlake.init(settings={"root": root}, resume_from="r1?_step=6") as run:
        run.log({"loss": 60.0})
    with runlake.init(settings={"root": root}, resume_from="r1?_step=2") as run:
        run.log({"loss": 20.0})
    assert rows(root, "r1") == original[:3] + [{"_step": 3, "loss": 20.0}]
    stamps = sorted(run_dir(root, "r1").joinpath("rewound").iterdir())
    assert len(stamps) == 2
    total = sum(pq.read_metadata(p).num_rows for s in stamps for p in s.glob("*.parquet"))
    assert total == 2 + 5  # steps 7 and 8; then steps 3..6 and the 7 logged after the first


@pytest.mark.slow
def test_resume_from_a_killed_run_recovers_it_first(root):
    logger = Logger(root, "killed", 20)
    logger.kill()
    before = digest(root)
    with pytest.raises(runlake.ResumeError, match="ends at step 19"):  # its WAL counts
        runlake.init(settings={"root": root}, resume_from="killed?_step=20")
    assert digest(root) == before  # a refused rewind recovers nothing either
    with runlake.init(settings={"root": root}, resume_from="killed?_step=9") as run:
        assert run.step == 10 and run.summary["loss"] == {"min": 11.0, "max": 20.0}
        run.log({"loss": 0.0})
    assert full_history(root, "killed")["loss"].to_pylist() == [
        float(20 - i) for i in range(10)] + [0.0]


# -- fork ------------------------------------------------------------------------------------

def test_fork_starts_a_new_run_with_the_parents_history_up_to_the_step(root):
    with runlake.init(settings={"root": root}, id="parent", config={"lr": 0.1, "bs": 8}) as parent:
        parent.define_metric("loss", summary="min")
        for i in range(10):
            parent.log({"loss": 10.0 - i, "i": i})
    before = digest(run_dir(root, "parent"), run_dir(root, "parent", "history"))

    with runlake.init(settings={"root": root}, fork_from="parent?_step=5", config={"lr": 0.01}) as fork:
        assert fork.id != "parent" and not fork.resumed
        assert fork.step == fork.starting_step == 6
        assert dict(fork.config) == {"lr": 0.01, "bs": 8}  # a fork may change the parent's config
        assert fork.summary["loss"] == {"min": 5.0} and fork.summary["i"] == 5
        for i in range(3):
            fork.log({"loss": 1.0 - i / 10, "i": 100 + i})

    assert digest(run_dir(root, "parent"), run_dir(root, "parent", "history")) == before
    history = full_history(root, fork.id)
    assert history["_step"].to_pylist() == list(range(9))
    assert history["loss"].to_pylist() == [10.0 - i for i in range(6)] + [1.0, 0.9, 0.8]
    runtimes = history["_runtime"].to_pylist()
    assert runtimes == sorted(runtimes)
    stored = meta(root, fork.id)
    assert stored["fork_from"] == {"entity": "local", "project": "uncategorized",
                                   "run_id": "parent", "step": 5}
    assert stored["summary"]["loss"] == {"min": 0.8}
    assert meta(root, "parent")["fork_from"] is None
    # The fork's history is plain Parquet of its own partition.
    assert rows(root, fork.id)[:6] == rows(root, "parent")[:6]


def test_fork_with_a_given_id_and_its_errors(root):
    log_run(root, "parent", 3)
    with runlake.init(settings={"root": root}, id="child", fork_from="parent?_step=0") as fork:
        assert fork.id == "child" and fork.step == 1
    before = digest(root / "runs", root / "history")
    with pytest.raises(runlake.RunExistsError):
        runlake.init(settings={"root": root}, id="child", fork_from="parent?_step=0")
    with pytest.raises(runlake.RunExistsError):
        runlake.init(settings={"root": root}, id="parent", fork_from="parent?_step=0")
    assert digest(root / "runs", root / "history") == before
    # A fork can itself be resumed, and stays a fork.
    with runlake.init(settings={"root": root}, id="child", resume="must") as again:
        assert again.step == 1
    assert meta(root, "child")["fork_from"]["run_id"] == "parent"
    assert meta(root, "child")["state"] == "finished"

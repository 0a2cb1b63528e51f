"""run.detach(): let go of a live run without finishing it. Everything logged is durable,
the lock is free, readers see "detached" (not "crashed"), and another process resumes it
and logs on; nothing is lost, and the detached Run refuses to write."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import runlake
from runlake.engine import lock, recovery
from tests.helpers import rows, run_json

_RESUMER = textwrap.dedent("""
    import sys
    import runlake
    root, run_id = sys.argv[1], sys.argv[2]
    run = runlake.init(settings={"root": root}, project="p", id=run_id, resume="must")
    assert run.resumed and run.step == 51, run.step
    assert run.config["lr"] == 0.1
    for i in range(51, 80):
        run.log({"loss": 1.0 / (i + 1), "other": i})
    run.alert("resumed", "in another process")
    run.finish()
""")


@pytest.mark.slow
def test_another_process_resumes_a_detached_run(root):
    run = runlake.init(settings={"root": root}, project="p", id="r1", config={"lr": 0.1})
    run.define_metric("loss", summary="min")
    for i in range(50):
        run.log({"loss": 1.0 / (i + 1)})
    run.log({"late": 1}, commit=False)  # pending at detach: committed, not lost
    run.detach()
    assert runlake.run is None  # no longer this process's active run
    meta = run_json(root, "r1", project="p")
    assert meta["state"] == "detached" and meta["exit_code"] is None
    assert meta["finished_at"] is None
    assert meta["summary"]["loss"] == {"min": pytest.approx(1 / 50)}
    paths = run._paths
    assert not lock.is_live(paths) and not recovery.has_wal(paths)  # compacted, lock free
    assert [r["_step"] for r in rows(root, "r1")] == list(range(51))
    assert rows(root, "r1")[-1] == {"_step": 50, "late": 1}
    # a reader neither calls it crashed nor recovers it
    api = runlake.Api(root)
    assert api.run("p/r1").state == "detached"
    assert recovery.recover_run(paths) is False
    assert run_json(root, "r1", project="p")["state"] == "detached"

    proc = subprocess.run([sys.executable, "-c", _RESUMER, str(root), "r1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = rows(root, "r1")
    assert [r["_step"] for r in got] == list(range(80))
    assert [r.get("loss") for r in got] == [
        pytest.approx(1.0 / (i + 1)) if i != 50 else None for i in range(80)]
    after = api.run("p/r1")
    assert after.state == "finished"
    assert after.summary["loss"] == {"min": pytest.approx(1 / 80)}
    assert [a["title"] for a in after.alerts()] == ["resumed"]


def test_writing_after_detach_is_a_clear_usage_error(root):
    run = runlake.init(settings={"root": root}, project="p", id="r2")
    run.log({"a": 1})
    run.detach()
    with pytest.raises(runlake.UsageError, match=r"detached.*resume='must'"):
        run.log({"a": 2})
    with pytest.raises(runlake.UsageError, match="detached"):
        run.log({"a": 2}, step=10)
    with pytest.raises(runlake.UsageError, match="detached"):
        run.alert("t", "x")
    with pytest.raises(runlake.UsageError, match="detached"):
        run.config.update({"b": 1})
    with pytest.raises(runlake.UsageError, match="detached"):
        run.name = "other"
    with pytest.raises(runlake.UsageError, match="init"):
        runlake.log({"a": 3})  # no active run any more
    run.detach()  # again: nothing to do
    run.finish()  # a detached run is finished elsewhere: nothing to do here
    assert run_json(root, "r2", project="p")["state"] == "detached"
    assert [r["a"] for r in rows(root, "r2")] == [1]


def test_detach_then_resume_in_the_same_process(root):
    with runlake.init(settings={"root": root}, project="p", id="r3") as run:
        run.log({"a": 1})
        run.detach()
    assert run_json(root, "r3", project="p")["state"] == "detached"  # __exit__ left it alone
    again = runlake.init(settings={"root": root}, project="p", id="r3", resume="must")
    again.log({"a": 2})
    again.finish()
    assert [(r["_step"], r["a"]) for r in rows(root, "r3")] == [(0, 1), (1, 2)]


def test_detach_of_a_finished_run_is_an_error(root):
    run = runlake.init(settings={"root": root})
    run.finish()
    with pytest.raises(runlake.UsageError, match="finished"):
        run.detach()


def test_detach_is_a_no_op_when_disabled():
    run = runlake.init(mode="disabled")
    run.detach()
    run.log({"a": 1})  # a disabled run stays usable: detach did nothing
    run.finish()


def test_auto_resume_finds_a_detached_run(root):
    run = runlake.init(settings={"root": root}, resume="auto")
    run.log({"a": 1})
    run.detach()
    again = runlake.init(settings={"root": root}, resume="auto")
    assert again.id == run.id and again.resumed and again.step == 1
    again.finish()


@pytest.mark.slow
def test_detach_at_exit_of_a_script(root):
    # a script that detaches and exits: the run stays detached, not finished nor crashed
    script = ("import runlake, sys\n"
              "run = runlake.init(settings={'root': sys.argv[1]}, project='p', id='r5')\n"
              "run.log({'a': 1})\nrun.detach()\n")
    proc = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert run_json(root, "r5", project="p")["state"] == "detached"
    assert runlake.Api(root).run("p/r5").state == "detached"

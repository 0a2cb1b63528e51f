"""The live-runs registry (engine/live.py): init() finds killed runs through it, not by
listing every run of the project, and still finds one killed at any point."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import runlake
from runlake.engine import live, lock, recovery
from runlake.engine.layout import RunPaths
from tests import helpers

# Runs `init()` in a child that then kills itself at the point named by argv[3].
_KILLED = """
import os, signal, sys
import runlake
from runlake.engine import lock
from runlake.engine.layout import RunPaths
root, run_id, at = sys.argv[1], sys.argv[2], sys.argv[3]
if at == "lock":  # between the lock and run.json: all that exists is the lock and the entry
    lock.acquire(RunPaths.of(root, "local", "p", run_id))
else:
    run = runlake.init(settings={"root": root}, project="p", id=run_id)
    if at == "logged":
        for i in range(5):
            run.log({"loss": float(i)})
        assert run._flush(timeout=120)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed(root: Path, run_id: str, at: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(root), run_id, at], timeout=120)
    assert proc.returncode == -signal.SIGKILL


def new_writer(root: Path, run_id: str = "next") -> None:
    """init() and finish() another run of the project, waiting for its recovery thread."""
    with runlake.init(settings={"root": root}, project="p", id=run_id):
        pass
    join_recovery()


def join_recovery() -> None:
    for t in threading.enumerate():
        if t.name == "runlake-recover":
            t.join(timeout=60)


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in live.folder(root, "local", "p").iterdir() if p.name != live.COUNT)


def test_a_finished_run_leaves_no_entry(tmp_path):
    with runlake.init(settings={"root": tmp_path}, project="p", id="a") as run:
        assert live.entry(run._paths).exists()
    join_recovery()
    assert entries(tmp_path) == [".scanned"]


@pytest.mark.parametrize("at", ["lock", "init", "logged"])
def test_a_run_killed_at_any_point_is_found_by_the_next_init(tmp_path, at):
    new_writer(tmp_path, "first")  # the project has a registry, scanned once
    killed(tmp_path, "dead", at)
    assert entries(tmp_path) == [".scanned", "dead"]
    new_writer(tmp_path)
    assert entries(tmp_path) == [".scanned"]  # recovered, or nothing to recover: cleared
    if at != "lock":
        meta = helpers.run_json(tmp_path, "dead", project="p")
        assert meta["state"] == "crashed"
        dead = RunPaths.of(tmp_path, "local", "p", "dead")
        assert not recovery.has_wal(dead)
    if at == "logged":
        api = runlake.Api(tmp_path, recover=False)
        rows = api.run("local/p/dead").history(samples=None, format="records")
        assert [r["loss"] for r in rows] == [float(i) for i in range(5)]


def test_init_lists_the_registry_not_every_run(tmp_path, monkeypatch):
    for i in range(3):
        new_writer(tmp_path, f"r{i}")
    listed = []
    monkeypatch.setattr(recovery, "list_runs", lambda *a, **k: listed.append(a) or [])
    new_writer(tmp_path)
    assert listed == []


def test_a_store_without_a_registry_is_scanned_once(tmp_path, monkeypatch):
    """A run killed under a runlake that kept no registry is still found by the next init."""
    killed(tmp_path, "old", "logged")
    shutil.rmtree(live.folder(tmp_path, "local", "p"))  # as a runlake without one left it
    new_writer(tmp_path)
    assert helpers.run_json(tmp_path, "old", project="p")["state"] == "crashed"
    assert entries(tmp_path) == [".scanned"]
    listed = []
    real = recovery.list_runs
    monkeypatch.setattr(recovery, "list_runs", lambda *a, **k: listed.append(a) or real(*a, **k))
    new_writer(tmp_path, "later")
    assert listed == []


def test_a_live_run_keeps_its_entry_and_is_left_alone(tmp_path):
    owner = lock.acquire(RunPaths.of(tmp_path, "local", "p", "busy"))
    try:
        assert recovery.recover_project(tmp_path, "local", "p") == []
        assert "busy" in entries(tmp_path)
    finally:
        owner.release()
    assert "busy" not in entries(tmp_path)


def test_an_entry_a_dead_owner_left_survives_the_next_owner(tmp_path):
    """A resume that takes and releases the lock must not hide the killed run from recovery."""
    killed(tmp_path, "dead", "logged")
    paths = RunPaths.of(tmp_path, "local", "p", "dead")
    lock.acquire(paths).release()
    assert live.entry(paths).exists()
    assert recovery.recover_project(tmp_path, "local", "p") == [paths]
    assert not live.entry(paths).exists()


def test_run_numbers_count_up_without_listing_the_project(tmp_path, monkeypatch):
    from runlake.engine import live as live_module

    root = tmp_path / "store"
    assert [live_module.next_number(root, "e", "p", "new") for _ in range(3)] == [1, 2, 3]
    calls = []
    monkeypatch.setattr(live_module, "_listed_count", lambda d, r: calls.append(d) or 0)
    assert live_module.next_number(root, "e", "p", "new") == 4 and calls == []
    assert live_module.next_number(root, "e", "other", "new") == 1 and len(calls) == 1  # a new counter


def test_a_store_without_a_counter_starts_from_its_runs(tmp_path):
    from runlake.engine import live as live_module

    root = tmp_path / "store"
    project = root / "runs" / "entity=e" / "project=p"
    for i in range(5):
        (project / f"run_id=r{i}").mkdir(parents=True)
    assert live_module.next_number(root, "e", "p", "r4") == 5  # r4 is the run being named


def test_concurrent_inits_never_share_a_number(tmp_path):
    import threading

    from runlake.engine import live as live_module

    root = tmp_path / "store"
    got: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(50):
            n = live_module.next_number(root, "e", "p", "new")
            with lock:
                got.append(n)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 201))

"""engine.lock: one owner per run, released by finish or by the owner's death, not by fork."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from runlake.engine import lock
from runlake.errors import RunInUseError
from runlake.engine.layout import RunPaths

_HOLD = """
import sys, time
from runlake.engine import lock
from runlake.engine.layout import RunPaths
held = lock.acquire(RunPaths.of(sys.argv[1], "e", "p", "r"))
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def paths(root) -> RunPaths:
    return RunPaths.of(root, "e", "p", "r")


def test_acquire_release_and_a_second_owner_in_this_process(paths):
    assert not lock.is_live(paths)
    owner = lock.acquire(paths)
    assert owner.held and lock.is_live(paths)
    with pytest.raises(RunInUseError, match="e/p/r is being written by this process"):
        lock.acquire(paths)
    assert lock.is_live(paths)  # the failed attempt did not drop the held lock
    owner.release()
    assert not owner.held and not lock.is_live(paths)
    lock.acquire(paths).release()


@pytest.mark.slow
def test_a_killed_owner_frees_the_run(paths):
    child = subprocess.Popen([sys.executable, "-c", _HOLD, str(paths.root)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert lock.is_live(paths)
        with pytest.raises(RunInUseError, match="another process"):
            lock.acquire(paths)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not lock.is_live(paths)
    lock.acquire(paths).release()


_TRAINER = """
import os, signal, sys
from runlake.engine import lock
from runlake.engine.layout import RunPaths
lock.acquire(RunPaths.of(sys.argv[1], "e", "p", "r"))
worker = os.fork()
if worker == 0:  # a DataLoader-like worker that outlives its trainer
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # let the test's pipes close when the trainer exits
        os.dup2(null, fd)
    signal.pause()
    os._exit(0)
print(worker, flush=True)
os._exit(0)  # the trainer dies holding the run
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_does_not_keep_a_dead_owner_alive(paths):
    out = subprocess.run([sys.executable, "-c", _TRAINER, str(paths.root)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    worker = int(out.stdout.split()[0])
    try:
        os.kill(worker, 0)  # the worker is alive...
        assert not lock.is_live(paths)  # ...and the run is free
    finally:
        os.kill(worker, signal.SIGKILL)

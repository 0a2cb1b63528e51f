"""Run states (running, finished, failed, crashed, preempting), `run.status()`, and SIGTERM
handled as a preemption, in this process (tests/e2e/test_kill.py does it to real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from runlake.engine import wal
from runlake.engine.layout import RunPaths

import runlake
from runlake.tracking import session
from tests import helpers


def run_json(run: runlake.Run) -> dict:
    return helpers.run_json(Path(run.settings.root), run.id, run.entity, run.project)


def wait_until(probe, what: str) -> None:
    deadline = time.monotonic() + 60  # never reached when well: no assertion about time
    while not probe():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


# -- status() ----------------------------------------------------------------------------------


def test_status_counts_match_the_files(root):
    with runlake.init(settings=runlake.Settings(root=root, segment_bytes=2_000)) as run:
        assert run.status() == runlake.RunStatus(0, 0, 0, None, None)
        for i in range(300):
            run.log({"a": float(i)})
            if i % 50 == 49:
                assert run._flush()
        st = run.status()
        assert st.rows_logged == st.rows_durable == 300
        assert st.last_flush is not None and st.error is None
        # Small segments: some are published (the count follows the file's rename).
        wait_until(lambda: run.status().rows_compacted > 0, "a published segment")
        compacted = run.status().rows_compacted
        paths = RunPaths.of(root, "local", "uncategorized", run.id)
        in_files = sum(pq.read_metadata(p).num_rows for p in paths.history_dir.glob("part-*"))
        assert 0 < compacted <= in_files <= 300
    st = run.status()
    assert st.rows_logged == st.rows_durable == st.rows_compacted == 300


def test_status_reports_a_write_error(root, monkeypatch):
    with runlake.init(settings=runlake.Settings(root=root, wal_interval=0.0)) as run:
        def refuse(*_, **__):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(wal.WalWriter, "append", refuse)
        run.log({"a": 1.0})
        with pytest.warns(RuntimeWarning, match="No space left"):
            wait_until(lambda: run.status().error is not None, "the write error")
        st = run.status()
        assert st.rows_logged == 1 and st.rows_durable == 0
        assert st.error == "OSError: [Errno 28] No space left on device"
        monkeypatch.undo()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the writer may say that it works again)
            wait_until(lambda: run.status().error is None, "the retry to succeed")
            assert run._flush(timeout=60) and run.status().rows_durable == 1


def test_status_of_a_disabled_run():
    with runlake.init(mode="disabled") as run:
        run.log({"a": 1.0})
        assert run.status() == runlake.RunStatus(0, 0, 0, None, None)
        run.mark_preempting()  # a no-op, as everything in disabled mode


# -- finished, failed, preempting ------------------------------------------------------------------


def test_mark_preempting_then_finish(root):
    run = runlake.init(settings={"root": root}, project="p")
    run.log({"a": 1.0})
    run.mark_preempting()
    assert run_json(run)["state"] == "preempting"
    assert runlake.Api(root).run(f"p/{run.id}").state == "preempting"
    run.finish()  # a preempted run that still finishes cleanly is finished
    assert run_json(run)["state"] == "finished" and run_json(run)["exit_code"] == 0
    run.mark_preempting()  # after finish: nothing changes
    assert run_json(run)["state"] == "finished"


def test_a_preempting_run_that_exits_nonzero_stays_preempting(root):
    run = runlake.init(settings={"root": root})
    run.mark_preempting()
    run.finish(exit_code=143)  # the usual 128 + SIGTERM of a handler's sys.exit
    meta = run_json(run)
    assert (meta["state"], meta["exit_code"]) == ("preempting", 143)
    assert meta["finished_at"] is not None


def test_an_exception_in_the_with_block_fails_the_run_with_its_last_line(root):
    with pytest.raises(ValueError), runlake.init(settings={"root": root}) as run:
        raise ValueError("shape mismatch\n  expected (3, 4)\n  got (4, 3)")
    meta = run_json(run)
    assert (meta["state"], meta["exit_code"]) == ("failed", 1)
    assert meta["error"] == "got (4, 3)"  # the last line, stripped


_FAILS = """
import runlake
run = runlake.init(project="p", id="boom")
run.log({"a": 1.0})
def train():
    raise RuntimeError("loss is NaN\\n  at step 7")
train()
"""


@pytest.mark.slow
def test_an_unhandled_exception_fails_the_run_with_the_tracebacks_last_line(tmp_path, root):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["RUNLAKE_DIR"] = str(root)
    out = subprocess.run([sys.executable, "-c", _FAILS], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last == "  at step 7"  # what the traceback printed last...
    meta = helpers.run_json(root, "boom", project="p")
    assert (meta["state"], meta["exit_code"], meta["error"]) == ("failed", 1, last.strip())
    assert helpers.rows(root) == [{"_step": 0, "a": 1.0}]


# -- SIGTERM in this process: chained to a Python handler that lets the process live ---------


@pytest.fixture
def sigterm_handler():
    """A Python SIGTERM handler installed before init() (it records calls and returns)."""
    calls: list[int] = []
    original = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGTERM, original)


def test_sigterm_flushes_marks_preempting_and_chains_to_the_previous_handler(
        root, sigterm_handler):
    previous = signal.getsignal(signal.SIGTERM)
    run = runlake.init(settings=runlake.Settings(root=root, wal_interval=3600))
    assert signal.getsignal(signal.SIGTERM) is not previous  # runlake's, in front
    for i in range(100):
        run.log({"a": float(i)})
    assert run.status().rows_durable < 100  # an hour's wal_interval: not durable yet
    os.kill(os.getpid(), signal.SIGTERM)
    wait_until(lambda: sigterm_handler, "the previous handler to be called")
    assert sigterm_handler == [signal.SIGTERM]  # once, after runlake's work
    assert run.status().rows_durable == 100
    assert run_json(run)["state"] == "preempting"
    assert signal.getsignal(signal.SIGTERM) is previous  # restored
    run.log({"a": 100.0})  # the previous handler let the process live: the run goes on
    run.finish()
    assert run_json(run)["state"] == "finished"
    assert [r["a"] for r in helpers.rows(root, run.id)] == [float(i) for i in range(101)]


def test_sigterm_inside_runlake_is_taken_again_once_it_leaves(root, sigterm_handler,
                                                              monkeypatch):
    """A signal that stops the main thread inside runlake (which may hold a lock the flush
    needs) is re-sent to the process until it arrives outside."""
    inside = iter([True, True, False])
    monkeypatch.setattr(session, "_in_runlake", lambda frame: next(inside))
    run = runlake.init(settings=runlake.Settings(root=root, wal_interval=3600))
    run.log({"a": 1.0})
    os.kill(os.getpid(), signal.SIGTERM)
    wait_until(lambda: sigterm_handler, "the previous handler to be called")
    assert sigterm_handler == [signal.SIGTERM]
    assert next(inside, "used up") == "used up"  # deferred twice, then handled
    assert run_json(run)["state"] == "preempting" and run.status().rows_durable == 1
    run.finish()


def test_no_handler_from_another_thread_or_over_an_ignored_signal(root):
    import threading

    original = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        runlake.init(settings={"root": root}).finish()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # ignored on purpose: kept
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        thread = threading.Thread(target=lambda: runlake.init(settings={"root": root}).finish())
        thread.start()
        thread.join()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # only the main thread may
    finally:
        signal.signal(signal.SIGTERM, original)




def test_the_handler_tells_whether_it_stopped_runlake_mid_call():
    from runlake.engine.buffer import HistoryBuffer

    seen = []

    def values():  # runs inside HistoryBuffer.append, as a signal handler could
        seen.append(session._in_runlake(sys._getframe()))
        yield 1.0

    HistoryBuffer().append(("a",), values(), 0)
    assert seen == [True]
    assert not session._in_runlake(sys._getframe())

"""Console capture (sdk/monitor/console.py): the user still sees the output, output.log has it, the
streams are restored at finish; concurrent threads, partial writes, undecodable text, and
pytest's own capture underneath."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

import runlake
from runlake.monitor.console import ConsoleCapture


def patched(stream) -> bool:
    return "write" in vars(stream) or "writelines" in vars(stream)


def output_log(run) -> Path:
    return Path(run.dir) / "output.log"


def test_prints_are_seen_and_logged_and_streams_restored(root, capsys):
    out_before, err_before = sys.stdout, sys.stderr
    run = runlake.init(settings={"root": root})
    # Patched in place, as wandb's wrap does: the same objects, with their own write().
    assert sys.stdout is out_before and sys.stderr is err_before
    assert patched(sys.stdout) and patched(sys.stderr)
    print("hello from training")
    print("a warning line", file=sys.stderr)
    run.finish()
    assert sys.stdout is out_before and sys.stderr is err_before
    assert not patched(sys.stdout) and not patched(sys.stderr)
    seen = capsys.readouterr()
    assert "hello from training" in seen.out and "a warning line" in seen.err
    text = output_log(run).read_text(encoding="utf-8")
    assert "hello from training\n" in text and "a warning line\n" in text
    print("after finish")
    assert "after finish" not in output_log(run).read_text(encoding="utf-8")


def test_the_tee_behaves_like_the_stream(root):
    run = runlake.init(settings={"root": root})
    assert sys.stdout.encoding == sys.__stdout__.encoding or sys.stdout.encoding
    assert isinstance(sys.stdout.isatty(), bool)
    assert sys.stdout.write("xyz") == 3
    sys.stdout.writelines(["1", "2\n"])
    sys.stdout.flush()
    run.finish()
    assert output_log(run).read_text(encoding="utf-8").endswith("xyz12\n")


def test_concurrent_threads_lose_and_tear_no_write(root, capsys):
    run = runlake.init(settings={"root": root})

    def worker(n: int) -> None:
        for i in range(400):
            sys.stdout.write(f"thread {n} line {i}\n")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.finish()
    lines = output_log(run).read_text(encoding="utf-8").splitlines()
    want = {f"thread {n} line {i}" for n in range(8) for i in range(400)}
    assert sorted(lines) == sorted(want)  # each exactly once, whole
    for n in range(8):  # each thread's lines in its own order
        mine = [line for line in lines if line.startswith(f"thread {n} ")]
        assert mine == [f"thread {n} line {i}" for i in range(400)]
    assert len(capsys.readouterr().out.splitlines()) == 3200


def test_partial_writes_and_undecodable_text(root):
    run = runlake.init(settings={"root": root})
    sys.stdout.write("epoch 1: ")
    sys.stdout.write("10%\r20%\r")
    sys.stdout.write("done\n")
    bad = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # as a latin-1 file read as UTF-8
    sys.stderr.write(bad + "\n")
    sys.stdout.write("naïve ✓\n")
    run.finish()
    data = output_log(run).read_bytes()
    text = data.decode("utf-8")  # always valid UTF-8
    assert "epoch 1: 10%\r20%\rdone\n" in text
    assert "caf\\udce9 \\udcff\n" in text  # escaped, not dropped
    assert "naïve ✓\n" in text


def test_a_stream_replaced_after_init_is_left_alone(root):
    run = runlake.init(settings={"root": root})
    tee = sys.stdout

    class Other:
        def __init__(self, inner):
            self.inner, self.seen = inner, []

        def write(self, s):
            self.seen.append(s)
            return self.inner.write(s)

        def flush(self):
            self.inner.flush()

    other = Other(tee)
    sys.stdout = other
    try:
        print("through both")
        run.finish()
        assert sys.stdout is other  # not clobbered
        print("after finish")  # the tee left inside `other` only passes it on
    finally:
        sys.stdout = tee
    text = output_log(run).read_text(encoding="utf-8")
    assert "through both" in text and "after finish" not in text
    assert "after finish" in other.seen


def test_output_log_is_flushed_while_the_run_is_live(root):
    from tests.helpers import wait_for

    run = runlake.init(settings={"root": root})
    print("early line")
    wait_for("output.log", lambda: output_log(run).exists()
             and "early line" in output_log(run).read_text(encoding="utf-8"), 60)
    run.finish()


@pytest.mark.parametrize("how", ["setting", "env", "wandb-env"])
def test_console_off(root, monkeypatch, how):
    settings = runlake.Settings()
    if how == "setting":
        settings = settings.replace(console="off")
    else:
        monkeypatch.setenv("RUNLAKE_CONSOLE" if how == "env" else "WANDB_CONSOLE", "off")
    before = sys.stdout
    run = runlake.init(settings=settings.replace(root=root))
    assert sys.stdout is before and not patched(sys.stdout) and run.settings.console == "off"
    print("not captured")
    run.finish()
    assert not output_log(run).exists()


def test_a_bad_console_value_is_refused():
    with pytest.raises(runlake.UsageError, match="console must be one of auto, off"):
        runlake.init(mode="disabled", settings=runlake.Settings(console="loud"))


def test_an_unwritable_file_is_reported_once_and_kept(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    capture = ConsoleCapture(blocker / "output.log", flush_interval=3600)
    capture.add("kept\n")
    with pytest.warns(RuntimeWarning, match="cannot write the console"):
        capture.flush()
    capture.add("more\n")
    capture.flush()  # fails again, silently
    blocker.unlink()
    capture.flush()
    assert (blocker / "output.log").read_text(encoding="utf-8") == "kept\nmore\n"
    assert capture.dropped == 0


def test_bytes_are_captured_and_other_objects_ignored(tmp_path):
    capture = ConsoleCapture(tmp_path / "output.log")
    capture.add(b"raw \xff bytes\n")
    capture.add(12345)  # the stream refused it already; nothing to log
    capture.flush()
    assert (tmp_path / "output.log").read_text(encoding="utf-8") == "raw \\xff bytes\n"


def test_a_signal_handler_that_prints_inside_a_print_does_not_deadlock(root):
    import os
    import signal

    run = runlake.init(settings={"root": root})
    capture = run._monitors.console  # noqa: SLF001
    fired = []

    def handler(signum, frame):
        fired.append(signum)
        print("from the handler")

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with capture._lock:  # noqa: SLF001 - as if the signal arrived inside add()
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(1000):  # the handler runs between bytecodes
                if fired:
                    break
        print("after")
    finally:
        signal.signal(signal.SIGUSR1, previous)
    run.finish()
    text = output_log(run).read_text(encoding="utf-8")
    assert fired and "from the handler\n" in text and "after\n" in text


def test_a_resumed_run_appends_to_output_log_and_its_system_stream(root):
    settings = runlake.Settings(system_metrics_interval=3600)
    first = runlake.init(id="again", settings=settings.replace(root=root))
    print("first process")
    first.finish()
    second = runlake.init(id="again", resume="must", settings=settings.replace(root=root))
    print("second process")
    second.finish()
    text = output_log(second).read_text(encoding="utf-8")
    assert text.index("first process") < text.index("second process")
    parts = sorted(p.name for p in second._paths.system_dir.glob("*.parquet"))  # noqa: SLF001
    assert parts == ["part-000000.parquet", "part-000001.parquet"]  # one last sample each


@pytest.mark.slow
def test_a_forked_child_captures_nothing(root):
    import os

    run = runlake.init(settings={"root": root})
    capture = run._monitors.console  # noqa: SLF001
    print("parent before fork")
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # the child: its writes must not pile up (it has no flush thread)
        code = 1
        try:
            before = len(capture._chunks)  # noqa: SLF001
            sys.stdout.write("from the child\n")
            sys.stdout.write(b"child bytes\n".decode())
            code = 0 if len(capture._chunks) == before and capture._forked else 1  # noqa: SLF001
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not capture._forked  # noqa: SLF001
    run.finish()
    text = output_log(run).read_text(encoding="utf-8")
    assert "parent before fork" in text and "from the child" not in text


def test_a_handler_that_took_the_stream_before_init_is_captured(root):
    import io
    import logging

    handler = logging.StreamHandler(sys.stderr)  # as a framework configures it at import
    logger = logging.getLogger("runlake-test-console")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        run = runlake.init(settings={"root": root})
        logger.warning("epoch 3: loss went up")
        assert isinstance(sys.stdout, io.TextIOBase)  # the stream keeps its type
        run.finish()
    finally:
        logger.removeHandler(handler)
    assert "epoch 3: loss went up\n" in output_log(run).read_text(encoding="utf-8")


class SlottedStream:
    """A stream whose attributes cannot be set: it is replaced in sys instead."""

    __slots__ = ("seen",)

    def __init__(self):
        self.seen = []

    def write(self, s):
        self.seen.append(s)
        return len(s)

    def flush(self):
        pass


def test_a_stream_that_cannot_be_patched_is_replaced_and_restored(root, monkeypatch):
    slotted = SlottedStream()
    monkeypatch.setattr(sys, "stdout", slotted)
    run = runlake.init(settings={"root": root})
    assert sys.stdout is not slotted  # a tee stands in for it
    print("through the tee")
    assert sys.stdout.seen == slotted.seen  # attributes pass through
    run.finish()
    assert sys.stdout is slotted
    assert "through the tee\n" in output_log(run).read_text(encoding="utf-8")
    assert "".join(slotted.seen) == "through the tee\n"


def test_a_patch_made_over_ours_is_left_in_place(root):
    run = runlake.init(settings={"root": root})
    ours = sys.stdout.write
    seen = []

    def theirs(s):
        seen.append(s)
        return ours(s)

    sys.stdout.write = theirs
    try:
        print("both")
        run.finish()
        assert vars(sys.stdout)["write"] is theirs  # not removed from under them
        print("after finish")  # theirs -> ours, which now only passes it on
    finally:
        del sys.stdout.write
    text = output_log(run).read_text(encoding="utf-8")
    assert "both" in text and "after finish" not in text
    assert "after finish" in seen

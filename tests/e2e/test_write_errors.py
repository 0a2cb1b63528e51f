"""A full disk or a read-only store while training: logging goes on, nothing durable is harmed.

Real filesystems where the sandbox allows them (a 2 MB tmpfs that fills up; an ext4 image on
a loop device that the kernel remounts read-only mid-run, open files included), else skipped;
and injected faults (a WAL write that fails half-way, a cut-off that fails too, run.json
writes that fail). The writer thread is parked between two cycles while a fault is set up, so
which rows a failing write holds is known; no assertion is about time.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import runlake
from runlake.engine import meta, wal
from runlake.engine.layout import RunPaths

from tests.helpers import run_json
from tests import helpers

T = TypeVar("T")
DEADLINE = 60.0  # seconds a wait may take before the test fails (never reached when well)
SETTINGS = runlake.Settings(wal_interval=0.02)


def wait_for(what: str, probe: Callable[[], T]) -> T:
    return helpers.wait_for(what, probe, DEADLINE, 0.01)


def log_steps(run: runlake.Run, start: int, stop: int) -> None:
    for i in range(start, stop):
        run.log({"loss": i / 2, "i": i})


def read_steps(root: Path, run: runlake.Run) -> list[int]:
    """The run's steps read back with the public reader, checking every logged value."""
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    assert frame["loss"].to_list() == [s / 2 for s in frame["_step"].to_list()]
    assert frame["i"].to_list() == frame["_step"].to_list()
    return frame["_step"].to_list()


def wal_steps(root: Path, run: runlake.Run) -> list[int]:
    """Steps in the run's WAL files, read frame by frame (a torn tail ends a file)."""
    paths = RunPaths.of(root, run.entity, run.project, run.id)
    return [s for f in sorted(paths.wal_dir.glob("*.arrows"))
            for t in wal.read_frames(f) for s in t.column("_step").to_pylist()]


def messages(caught: list[warnings.WarningMessage], word: str) -> list[str]:
    return [str(w.message) for w in caught if word in str(w.message)]


class Gate:
    """Parks a run's writer thread between two cycles (no write in flight) until opened."""

    def __init__(self, run: runlake.Run, monkeypatch: pytest.MonkeyPatch) -> None:
        self._open = threading.Event()
        self._open.set()
        self._parked = threading.Event()
        writer = run._writer
        real = writer._cycle

        def cycle(final: bool) -> None:
            if not self._open.is_set():
                self._parked.set()
                self._open.wait()
            real(final)

        monkeypatch.setattr(writer, "_cycle", cycle)

    def park(self) -> None:
        self._parked.clear()
        self._open.clear()
        assert self._parked.wait(DEADLINE), "the writer thread never came round"

    def release(self) -> None:
        self._open.set()


@pytest.fixture
def caught() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        yield got


# -- a real full disk: a 2 MB tmpfs ----------------------------------------------------------


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(cmd[0]) is None:
        pytest.skip(f"no {cmd[0]} command here")
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _unmount(mnt: Path) -> None:
    if _run("umount", str(mnt)).returncode:
        _run("umount", "-l", str(mnt))  # never leave a mount behind


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    done = _run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt))
    if done.returncode:
        pytest.skip(f"can't mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mnt
    finally:
        _unmount(mnt)


def fill(mnt: Path) -> Path:
    """Take every free byte of the filesystem; returns the file to delete to free it."""
    filler = mnt / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_keeps_logging_and_catches_up_when_space_returns(tmpfs, monkeypatch,
                                                                      caught):
    root = tmpfs / "store"
    run = runlake.init(project="p", settings=SETTINGS.replace(root=root))
    gate = Gate(run, monkeypatch)
    try:
        log_steps(run, 0, 200)
        assert run._flush(DEADLINE)
        gate.park()
        filler = fill(tmpfs)
        log_steps(run, 200, 700)  # the disk is full: log() never notices
        gate.release()
        wait_for("the write error", lambda: run._writer.error is not None)
        log_steps(run, 700, 900)  # ... and logging goes on while the writer retries
        # What was durable is intact and readable meanwhile (the reader's caches can't be
        # written either: it answers from memory).
        assert wal_steps(root, run) == list(range(200))
        assert read_steps(root, run) == list(range(200))
        filler.unlink()
        wait_for("the writer to catch up", lambda: run._writer.error is None)
        assert run._flush(DEADLINE)
    finally:
        gate.release()
        run.finish()
    failed = messages(caught, "failed")
    assert len(failed) == 1, failed  # reported once, clearly:
    assert run.path in failed[0] and "No space left on device" in failed[0]
    assert "rows from step 200 on are only in memory" in failed[0]
    assert len(messages(caught, "works again")) == 1
    assert read_steps(root, run) == list(range(900))  # nothing lost
    meta_json = run_json(root, run.id, project="p")
    assert meta_json["state"] == "finished" and meta_json["error"] is None


def test_a_disk_still_full_at_finish_loses_only_the_rows_it_could_not_write(tmpfs, monkeypatch,
                                                                            caught):
    root = tmpfs / "store"
    run = runlake.init(project="p", settings=SETTINGS.replace(root=root))
    gate = Gate(run, monkeypatch)
    try:
        log_steps(run, 0, 200)
        assert run._flush(DEADLINE)
        gate.park()
        filler = fill(tmpfs)
        log_steps(run, 200, 700)
        run.config.update({"late": 1})  # run.json can't be written either: not an error here
        gate.release()
        wait_for("the write error", lambda: run._writer.error is not None)
    finally:
        gate.release()
        run.finish()  # returns: the training script ends normally
    assert runlake.run is None
    assert len(messages(caught, "only in memory")) == 1
    lost = messages(caught, "lost when this process exits")
    assert len(lost) == 1 and run.path in lost[0] and "500 rows from step 200 on" in lost[0]
    # run.json at finish: written if the files given up on freed enough room, else a warning.
    record = run_json(root, run.id, project="p")
    if not messages(caught, "could not write run"):
        assert record["state"] == "finished" and "500 rows from step 200 on" in record["error"]
    else:
        assert record["state"] == "running"
    # Every frame written before the disk filled is whole and readable.
    assert wal_steps(root, run) == list(range(200))
    filler.unlink()
    assert read_steps(root, run) == list(range(200))
    if record["state"] == "running":  # the next reader recovers it, and it never says nothing
        from runlake.cli import main as cli

        assert cli(["recover", "--dir", str(root)]) == 0
        again = run_json(root, run.id, project="p")
        assert again["state"] == "crashed" and "full or read-only disk" in again["error"]


# -- a real read-only store: ext4 on a loop device, remounted read-only by the kernel --------


@pytest.fixture
def ext4(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """A small ext4 filesystem mounted with errors=remount-ro, and a function that makes the
    kernel remount it read-only at once, as after an I/O error (open files included; a plain
    `mount -o remount,ro` refuses while a file is open for writing)."""
    image, mnt = tmp_path / "ext4.img", tmp_path / "ext4"
    mnt.mkdir()
    image.write_bytes(b"")
    with open(image, "r+b") as f:
        f.truncate(32 << 20)
    made = _run("mkfs.ext4", "-q", "-F", str(image))
    if made.returncode:
        pytest.skip(f"can't make an ext4 image here: {made.stderr.strip()}")
    done = _run("mount", "-o", "loop,errors=remount-ro", str(image), str(mnt))
    if done.returncode:
        pytest.skip(f"can't mount a loop device here: {done.stderr.strip() or done.returncode}")
    try:
        device = _run("findmnt", "-no", "SOURCE", str(mnt)).stdout.strip()
        trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip(f"no {trigger} to make the kernel remount the store read-only")

        def make_read_only() -> None:
            trigger.write_text("runlake test: remount read-only")
            options = _run("findmnt", "-no", "OPTIONS", str(mnt)).stdout
            assert "emergency_ro" in options or options.startswith("ro"), options

        yield mnt, make_read_only
    finally:
        _unmount(mnt)


def test_a_store_that_turns_read_only_mid_run(ext4, monkeypatch, caught):
    mnt, make_read_only = ext4
    root = mnt / "store"
    run = runlake.init(project="p", settings=SETTINGS.replace(root=root))
    gate = Gate(run, monkeypatch)
    try:
        log_steps(run, 0, 300)
        assert run._flush(DEADLINE)
        gate.park()
        make_read_only()
        log_steps(run, 300, 600)
        run.config.update({"late": 1})
        run.name = "renamed"
        run.summary["best"] = 1.0
        gate.release()
        wait_for("the write error", lambda: run._writer.error is not None)
        log_steps(run, 600, 650)
        assert read_steps(root, run) == list(range(300))  # readable from a read-only store
    finally:
        gate.release()
        run.finish()
    failed = messages(caught, "only in memory")
    assert len(failed) == 1 and "Read-only file system" in failed[0]
    assert "rows from step 300 on" in failed[0]
    assert len(messages(caught, "350 rows from step 300 on were not written")) == 1
    assert wal_steps(root, run) == list(range(300))
    assert read_steps(root, run) == list(range(300))


# -- injected faults -------------------------------------------------------------------------


class Faults:
    """What the WAL file of the runs below does: fail writes half-way, fail the cut-off."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, code: int = errno.ENOSPC) -> None:
        self.write = False
        self.truncate = False
        faults = self
        message = f"{os.strerror(code)} (injected)"

        class FaultyFile:
            def __init__(self, f: Any) -> None:
                self._f = f

            def write(self, data: Any) -> int:
                if faults.write:  # a short write, then the disk is full: a torn frame
                    self._f.write(bytes(memoryview(data)[: max(1, len(data) // 2)]))
                    raise OSError(code, message)
                return self._f.write(data)

            def truncate(self, size: int) -> int:
                if faults.truncate:
                    raise OSError(errno.EROFS, "Read-only file system (injected)")
                return self._f.truncate(size)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._f, name)

        def faulty_open(*args: Any, **kwargs: Any) -> FaultyFile:
            return FaultyFile(open(*args, **kwargs))

        monkeypatch.setattr(wal, "open", faulty_open, raising=False)


@pytest.mark.parametrize("cut_off_fails", [False, True], ids=["torn-frame-cut", "cut-fails-too"])
def test_a_torn_wal_frame_never_hides_the_frames_after_it(root, monkeypatch, caught,
                                                          cut_off_fails):
    faults = Faults(monkeypatch)
    run = runlake.init(project="p", settings=SETTINGS.replace(root=root))
    gate = Gate(run, monkeypatch)
    paths = RunPaths.of(root, "local", "p", run.id)
    try:
        log_steps(run, 0, 100)
        assert run._flush(DEADLINE)
        gate.park()
        faults.write, faults.truncate = True, cut_off_fails
        log_steps(run, 100, 300)
        gate.release()
        wait_for("the write error", lambda: run._writer.error is not None)
        wal_file = paths.wal_file(0)
        assert wal_steps(root, run) == list(range(100))  # earlier frames intact
        torn = wal_file.stat().st_size - wal.valid_length(wal_file)
        assert (torn > 0) == cut_off_fails  # the half frame is cut off unless that fails too
        faults.write = faults.truncate = False
        wait_for("the writer to catch up", lambda: run._writer.error is None)
        assert run._flush(DEADLINE)
        assert wal_steps(root, run) == list(range(300))  # new frames follow the last whole one
        assert wal_file.stat().st_size == wal.valid_length(wal_file)
    finally:
        faults.write = faults.truncate = False
        gate.release()
        run.finish()
    failed = messages(caught, "failed")
    assert len(failed) == 1 and "rows from step 100 on are only in memory" in failed[0]
    assert read_steps(root, run) == list(range(300))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES],
                         ids=["ENOSPC", "EROFS", "EACCES"])
def test_a_write_error_that_outlasts_finish_is_recorded_in_run_json(root, monkeypatch, caught,
                                                                    code):
    faults = Faults(monkeypatch, code)
    run = runlake.init(project="p", settings=SETTINGS.replace(root=root))
    gate = Gate(run, monkeypatch)
    try:
        log_steps(run, 0, 100)
        assert run._flush(DEADLINE)
        gate.park()
        faults.write = True
        log_steps(run, 100, 250)
    finally:
        gate.release()
        run.finish()  # returns
    lost = messages(caught, "lost when this process exits")
    assert len(lost) == 1 and "150 rows from step 100 on" in lost[0]
    assert f"{os.strerror(code)} (injected)" in lost[0] and run.path in lost[0]
    record = run_json(root, run.id, project="p")  # run.json could be written: it says so
    assert record["state"] == "finished" and record["exit_code"] == 0
    assert "150 rows from step 100 on" in record["error"]
    assert os.strerror(code) in record["error"]
    faults.write = False
    assert wal_steps(root, run) == list(range(100))
    assert read_steps(root, run) == list(range(100))


def test_run_json_writes_that_fail_mid_run_do_not_stop_training(root, monkeypatch, caught):
    real_write_json = meta.write_json
    failing = threading.Event()

    def write_json(path: Path, data: dict[str, Any]) -> None:
        if failing.is_set():
            raise OSError(errno.EROFS, "Read-only file system (injected)")
        real_write_json(path, data)

    monkeypatch.setattr(meta, "write_json", write_json)
    run = runlake.init(project="p", settings=SETTINGS.replace(root=root))
    try:
        log_steps(run, 0, 100)
        assert run._flush(DEADLINE)
        failing.set()
        # None of these raises: each change is kept and written when run.json can be.
        run.config.update({"late": 1})
        run.name = "renamed"
        run.tags = ["t"]
        run.define_metric("loss", summary="min")  # over every row, earlier ones too (wandb)
        log_steps(run, 100, 200)
        wait_for("the write error", lambda: run._writer.error is not None)
        # History is not held back by run.json (flush() itself stops at any error).
        wait_for("every row in the WAL", lambda: wal_steps(root, run) == list(range(200)))
        assert run_json(root, run.id, project="p")["config"] == {}
        failing.clear()
        wait_for("run.json to catch up",
                 lambda: run_json(root, run.id, project="p")["config"] == {"late": 1})
    finally:
        failing.clear()
        run.finish()
    record = run_json(root, run.id, project="p")
    assert record["name"] == "renamed" and record["tags"] == ["t"]
    assert record["metrics"][0]["name"] == "loss" and record["summary"]["loss"] == {"min": 0.0}
    assert record["state"] == "finished" and record["error"] is None
    failed = messages(caught, "failed")
    assert len(failed) == 1 and "rewriting run.json failed and is retried" in failed[0]
    assert read_steps(root, run) == list(range(200))


def test_run_json_that_cant_be_written_at_finish_is_a_warning(root, monkeypatch, caught):
    run = runlake.init(project="p", settings=SETTINGS.replace(root=root))
    log_steps(run, 0, 100)

    def write_json(path: Path, data: dict[str, Any]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    monkeypatch.setattr(meta, "write_json", write_json)
    run.finish()  # returns
    assert runlake.run is None
    assert len(messages(caught, "could not write run")) == 1
    assert messages(caught, "writing run") == []  # history itself was all written
    assert run_json(root, run.id, project="p")["state"] == "running"
    paths = RunPaths.of(root, "local", "p", run.id)
    assert list(paths.wal_dir.glob("*.arrows")) == []  # compacted into Parquet
    monkeypatch.undo()
    assert read_steps(root, run) == list(range(100))

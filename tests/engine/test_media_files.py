"""Media files: written before the rows that name them, by temp+rename, retried on errors."""

from __future__ import annotations

import pytest

from runlake.engine import wal
from runlake.engine.buffer import HistoryBuffer
from runlake.errors import InvalidNameError
from runlake.engine.media_files import FileQueue, check_relative
from runlake.engine.kinds import Ref
from runlake.engine.layout import RunPaths
from runlake.engine.writer import RunWriter, WriterOptions
from tests.helpers import wait_for


def _settles(q: FileQueue, files_dir) -> bool:
    try:
        q.settle(files_dir)
    except OSError:
        return False  # the file thread has not retried yet
    return True


@pytest.mark.parametrize("bad", ["../x.png", "/abs.png", "a//b.png", "media/.hidden", "", "a/../b"])
def test_unsafe_relative_paths_are_refused(bad):
    with pytest.raises(InvalidNameError):
        check_relative(bad)
    with pytest.raises(InvalidNameError):
        FileQueue().put(bad, b"x")


@pytest.mark.parametrize("threaded", [False, True])
def test_settle_writes_every_queued_file(tmp_path, threaded):
    q = FileQueue()
    if threaded:
        q.start(tmp_path)
    for i in range(20):
        q.put(f"media/images/f_{i}.png", bytes([i]) * 100)
    q.settle(tmp_path)
    for i in range(20):
        assert (tmp_path / f"media/images/f_{i}.png").read_bytes() == bytes([i]) * 100
    assert len(q) == 0 and not [p for p in (tmp_path / "media/images").iterdir() if p.name.startswith(".")]
    q.close()


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failed_write_is_raised_kept_and_retried(tmp_path, threaded):
    files_dir = tmp_path / "files"
    files_dir.write_text("a file where the folder should be")
    q = FileQueue()
    if threaded:
        q.start(files_dir)
    q.put("media/x.png", b"png")
    with pytest.raises(OSError):
        q.settle(files_dir)
    assert len(q) == 1
    files_dir.unlink()
    wait_for("the write to be retried", lambda: _settles(q, files_dir), 30)
    assert (files_dir / "media/x.png").read_bytes() == b"png"
    q.close()


@pytest.mark.filterwarnings("ignore:.*works again:RuntimeWarning")  # said from the writer thread
def test_rows_are_not_durable_before_the_files_they_name(tmp_path):
    paths = RunPaths.of(tmp_path, "e", "p", "r")
    paths.run_dir.mkdir(parents=True)
    paths.files_dir.write_text("blocks the files folder")  # every media write fails for now
    buf, files = HistoryBuffer(), FileQueue()
    writer = RunWriter(paths, buf, 0.0, WriterOptions(flush_interval=0.01), files=files)
    with pytest.warns(RuntimeWarning, match="only in memory"):
        writer.start()
        files.put("media/images/a_0_x.png", b"png bytes")
        buf.append(("img",), (Ref({"_type": "image-file", "path": "media/images/a_0_x.png"}),), 0)
        assert not writer.flush(timeout=0.5)
        assert not list(paths.wal_dir.glob("*.arrows")) or not [
            t for f in paths.wal_dir.glob("*.arrows") for t in wal.read_frames(f)]
        paths.files_dir.unlink()
        wait_for("the writer to recover", lambda: writer.flush(timeout=0.2), 30)
        writer.close()  # (inside: the writer also says that writing works again)
    assert (paths.files_dir / "media/images/a_0_x.png").read_bytes() == b"png bytes"

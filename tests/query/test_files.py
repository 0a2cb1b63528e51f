"""The public Run's files(): listing, File attributes, download, delete."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
import runlake
from runlake.errors import InvalidNameError, RunFileError, RunNotFoundError


def _file(path: Path | str, data: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


@pytest.fixture
def saved(root):
    """A finished run with three saved files; returns the public Run."""
    _file("src/model.txt", "weights")
    _file("src/ckpt/a.bin", "aaaa")
    _file("src/notes.md", "# notes")
    with runlake.init(settings={"root": root}, project="p") as run:
        run.save("src/**", base_path="src", policy="now")
    return runlake.Api(root).run(f"p/{run.id}")


def test_files_lists_every_saved_file(saved):
    files = saved.files()
    assert [f.name for f in files] == ["ckpt/a.bin", "model.txt", "notes.md"]
    f = files[1]
    assert f.size == len("weights")
    assert f.updated_at.endswith("Z") and f.updated_at[:4].isdigit()
    assert f.url.startswith("file://") and f.url.endswith("/files/model.txt")
    assert f.direct_url == f.url
    assert f.mimetype == "text/plain"
    assert f.md5 == base64.b64encode(hashlib.md5(b"weights").digest()).decode()
    assert f.sha256 == hashlib.sha256(b"weights").hexdigest()
    assert "model.txt" in repr(f)


def test_files_by_names_and_per_page(saved):
    assert [f.name for f in saved.files(names=["notes.md", "nope.txt", "ckpt/a.bin"])] == [
        "notes.md", "ckpt/a.bin"]
    assert [f.name for f in saved.files(["./model.txt"])] == ["model.txt"]
    assert len(saved.files(per_page=1)) == 3
    with pytest.raises(ValueError, match="per_page"):
        saved.files(per_page=0)
    with pytest.raises(InvalidNameError):
        saved.files(names=["../run.json"])


def test_only_whole_regular_files_are_listed(saved, tmp_path):
    files_dir = saved._paths.files_dir
    (files_dir / ".tmp-0123abcd").write_text("partial copy")
    os.symlink(tmp_path / "src" / "model.txt", files_dir / "link.txt")
    assert [f.name for f in saved.files()] == ["ckpt/a.bin", "model.txt", "notes.md"]
    with pytest.raises(RunNotFoundError):
        saved.file("link.txt")


def test_file_missing_and_bad_names(saved):
    with pytest.raises(RunNotFoundError, match="no file 'nope.txt'"):
        saved.file("nope.txt")
    with pytest.raises(LookupError):
        saved.file("ckpt")  # a folder is not a file
    for name in ("../run.json", "/etc/passwd", "ckpt/../../run.json", "", ".tmp-x"):
        with pytest.raises(InvalidNameError):
            saved.file(name)


def test_download_replace_and_exist_ok(saved, tmp_path):
    out = tmp_path / "out"
    f = saved.file("ckpt/a.bin")
    with f.download(root=out) as fh:
        assert fh.read() == "aaaa" and fh.name == str(out / "ckpt" / "a.bin")
    _file(out / "ckpt" / "a.bin", "local")
    with pytest.raises(ValueError, match="replace=True"):
        f.download(root=out)
    with f.download(root=out, exist_ok=True) as fh:
        assert fh.read() == "local"
    with f.download(root=out, replace=True) as fh:
        assert fh.read() == "aaaa"
    assert issubclass(RunFileError, ValueError)


def test_download_defaults_to_the_working_folder(saved, tmp_path):
    with saved.file("model.txt").download() as fh:
        assert fh.read() == "weights"
    assert (tmp_path / "model.txt").read_text() == "weights"


def test_download_cannot_be_redirected_by_a_symlink(saved, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "ckpt")
    with pytest.raises(InvalidNameError, match="outside"):
        saved.file("ckpt/a.bin").download(root=out)
    assert list(elsewhere.iterdir()) == []


def test_delete(saved, root):
    saved.file("notes.md").delete()
    again = runlake.Api(root).run("/".join(saved.path))
    assert [f.name for f in again.files()] == ["ckpt/a.bin", "model.txt"]


def test_a_run_without_files_and_a_live_run(root):
    with runlake.init(settings={"root": root}, project="p") as run:
        public = runlake.Api(root).run(f"p/{run.id}")
        assert public.files() == []
        _file("x.txt", "live")
        run.save("x.txt")
        assert [f.name for f in public.files()] == ["x.txt"]  # read while the run lives
        with public.file("x.txt").download(root="dl") as fh:
            assert fh.read() == "live"

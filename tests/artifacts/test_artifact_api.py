"""The Artifact API wandb's code uses: manifest entries, add_file/add_dir options, wait(),
settable description and metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

import runlake
from runlake import errors


def _file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_add_file_returns_its_entry_and_the_manifest_lists_entries(tmp_path, root):
    src = _file(tmp_path / "a.txt", "hello")
    art = runlake.Artifact("data", "dataset")
    entry = art.add_file(src)
    assert (entry.path, entry.size, entry.ref) == ("a.txt", 5, None)
    assert entry.digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert entry["size"] == 5  # still the dict it was
    refs = art.add_reference((tmp_path / "a.txt").as_uri(), name="ref.txt")
    entries = art.manifest.entries
    assert sorted(entries) == ["a.txt", "ref.txt"]
    assert entries["ref.txt"].ref == refs[0].ref and entries["ref.txt"].digest == entry.digest
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log_artifact(art)
    logged = runlake.Api(root).artifact("p/data:latest").manifest.entries
    assert logged["a.txt"].digest == entry.digest and logged["a.txt"].size == 5


def test_mutable_policy_keeps_the_bytes_of_add_time_and_immutable_reads_at_log(tmp_path, root):
    mutable, immutable = _file(tmp_path / "m.txt", "old"), _file(tmp_path / "i.txt", "old")
    art = runlake.Artifact("data", "dataset")
    art.add_file(mutable)
    art.add_file(immutable, policy="immutable")
    mutable.write_text("new!")
    immutable.write_text("new!")
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log_artifact(art)
    out = Path(runlake.Api(root).artifact("p/data:latest").download(tmp_path / "out"))
    assert (out / "m.txt").read_text() == "old" and (out / "i.txt").read_text() == "new!"
    with pytest.raises(ValueError, match="policy 'sometimes'"):
        runlake.Artifact("x", "t").add_file(mutable, policy="sometimes")


def test_other_bytes_under_an_added_path_need_overwrite(tmp_path):
    a, b = _file(tmp_path / "a.txt", "a"), _file(tmp_path / "b.txt", "b")
    art = runlake.Artifact("data", "dataset")
    art.add_file(a, name="x.txt")
    art.add_file(a, name="x.txt")  # the same bytes again: fine
    with pytest.raises(ValueError, match="'x.txt'.*overwrite=True"):
        art.add_file(b, name="x.txt")
    assert art.add_file(b, name="x.txt", overwrite=True).size == 1
    assert art.manifest.entries["x.txt"].digest == art.get_entry("x.txt").digest


def test_is_tmp_names_the_entry_by_its_digest_and_skip_cache_is_kept(tmp_path):
    art = runlake.Artifact("data", "dataset")
    entry = art.add_file(_file(tmp_path / "pred.table.json", "{}"), name="sub/pred.table.json",
                         is_tmp=True, skip_cache=True)
    assert entry.path == f"sub/{entry.digest[:20]}.table.json" and entry.skip_cache


def test_add_dir_merge_rules(tmp_path):
    folder = tmp_path / "d"
    _file(folder / "x.txt", "x")
    _file(folder / "sub" / "y.txt", "y")
    art = runlake.Artifact("data", "dataset")
    assert art.add_dir(folder, name="dd", policy="immutable") is None
    art.add_dir(folder, name="dd")  # unchanged files: no conflict
    _file(folder / "x.txt", "changed")
    with pytest.raises(ValueError, match="'dd/x.txt'"):
        art.add_dir(folder, name="dd")
    art.add_dir(folder, name="dd", merge=True)
    assert art.manifest.entries["dd/x.txt"].size == len("changed")
    assert [e.path for e in art.manifest.get_entries_in_directory("dd")] == ["dd/sub/y.txt", "dd/x.txt"]


def test_wait_returns_the_logged_artifact(tmp_path, root):
    art = runlake.Artifact("data", "dataset")
    art.add_file(_file(tmp_path / "a.txt", "a"))
    with pytest.raises(errors.ArtifactNotLoggedError, match="wait"):
        art.wait()
    with runlake.init(settings={"root": root}, project="p") as run:
        assert run.log_artifact(art).wait() is art and art.wait(timeout=1).version == "v0"


def test_description_and_metadata_are_settable_until_logged(tmp_path, root):
    art = runlake.Artifact("data", "dataset")
    art.add_file(_file(tmp_path / "a.txt", "a"))
    art.description = "the data"
    art.metadata = {"rows": 3}
    art.metadata["cols"] = 2
    with pytest.raises(TypeError, match="metadata must be a dict"):
        art.metadata = [1]
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log_artifact(art)
    read = runlake.Api(root).artifact("p/data:latest")
    assert read.description == "the data" and read.metadata == {"rows": 3, "cols": 2}
    with pytest.raises(errors.ArtifactFinalizedError, match="description"):
        art.description = "changed"

"""The object store and artifact manifests (engine/objects.py)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from runlake.errors import InvalidNameError
from runlake.engine.objects import (
    ArtifactNotFoundError,
    ArtifactStore,
    ObjectStore,
    manifest_digest,
    validate_entry_path,
)


def _manifest(store: ArtifactStore, files: dict[str, bytes]) -> dict:
    entries = {}
    for path, data in files.items():
        digest, size = store.objects.put_bytes(data)
        entries[path] = {"digest": digest, "size": size}
    return {"type": "dataset", "entries": entries, "digest": manifest_digest(entries)}


def test_identical_bytes_stored_once(tmp_path: Path) -> None:
    objects = ObjectStore(tmp_path)
    a = tmp_path / "a.bin"
    a.write_bytes(b"x" * 1000)
    d1, size = objects.put_file(a)
    d2, _ = objects.put_bytes(b"x" * 1000)
    assert d1 == d2 and size == 1000
    stored = [p for p in objects.dir.rglob("*") if p.is_file()]
    assert stored == [objects.path(d1)] and stored[0].parent.name == d1[:2]


def test_bad_digest_is_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError):
        ObjectStore(tmp_path).path("../../etc/passwd")


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "a\0b", "", ".", "C:x"])
def test_entry_paths_that_escape_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_entry_path(bad)


def test_entry_path_normalised() -> None:
    assert validate_entry_path("./a//b\\c.txt") == "a/b/c.txt"


def test_versions_aliases_and_dedup(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    v, created = store.commit("e", "p", "data", _manifest(store, {"a": b"1"}), ["best"])
    assert (v, created) == (0, True)
    v, created = store.commit("e", "p", "data", _manifest(store, {"a": b"2"}), ["best"])
    assert (v, created) == (1, True)
    assert store.aliases("e", "p", "data") == {"best": 1, "latest": 1}
    # identical contents: the existing version, with the alias moved back onto it
    v, created = store.commit("e", "p", "data", _manifest(store, {"a": b"1"}), ["best"])
    assert (v, created) == (0, False)
    assert store.resolve("e", "p", "data", "best") == 0
    assert store.resolve("e", "p", "data", "latest") == 1
    assert store.versions("e", "p", "data") == [0, 1]
    with pytest.raises(ArtifactNotFoundError):
        store.resolve("e", "p", "data", "v7")
    with pytest.raises(ArtifactNotFoundError):
        store.resolve("e", "p", "data", "nope")


def test_bad_names_and_aliases(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(InvalidNameError):
        store.commit("e", "p", "../evil", _manifest(store, {"a": b"1"}))
    with pytest.raises(InvalidNameError):
        store.commit("e", "p", "ok", _manifest(store, {"a": b"1"}), ["v3"])


def test_consumers_recorded(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    store.commit("e", "p", "data", _manifest(store, {"a": b"1"}))
    store.add_consumer("e", "p", "data", 0, ("e", "other", "run1"))
    store.add_consumer("e", "p", "data", 0, ("e", "other", "run1"))
    assert [c["run_id"] for c in store.consumers("e", "p", "data", 0)] == ["run1"]


def _commit_many(root: str, worker: int, n: int) -> None:
    store = ArtifactStore(Path(root))
    for i in range(n):
        store.commit("e", "p", "shared", _manifest(store, {"f": f"{worker}-{i}".encode()}),
                     [f"w{worker}"])


@pytest.mark.slow
def test_concurrent_commits_get_distinct_versions(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_commit_many, args=(str(tmp_path), w, 5)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = ArtifactStore(tmp_path)
    assert store.versions("e", "p", "shared") == list(range(15))
    seen = {store.manifest("e", "p", "shared", v)["digest"] for v in range(15)}
    assert len(seen) == 15
    aliases = store.aliases("e", "p", "shared")
    assert {"w0", "w1", "w2", "latest"} <= set(aliases)


def test_file_changed_while_copied_is_refused(tmp_path: Path) -> None:
    from runlake.errors import CorruptObjectError
    from runlake.engine.objects import _copy_checked

    src = tmp_path / "a"
    src.write_bytes(b"now")
    with pytest.raises(CorruptObjectError, match="add it again"):
        _copy_checked(src, tmp_path / "copy", "0" * 64)


def test_gc_removes_only_old_unreferenced_objects(tmp_path: Path) -> None:
    import os
    import time

    store = ArtifactStore(tmp_path)
    store.commit("e", "p", "data", _manifest(store, {"a": b"kept"}))
    orphan, _ = store.objects.put_bytes(b"orphan")
    fresh, _ = store.objects.put_bytes(b"fresh orphan")
    old = time.time() - 7200
    for digest in (orphan, store.manifest("e", "p", "data", 0)["entries"]["a"]["digest"]):
        os.utime(store.objects.path(digest), (old, old))
    from runlake.engine.objects import gc

    assert gc(tmp_path, grace_seconds=3600) == (1, len(b"orphan"))
    assert not store.objects.has(orphan) and store.objects.has(fresh)
    assert store.objects.has(store.manifest("e", "p", "data", 0)["entries"]["a"]["digest"])
    # reusing an old object refreshes it, so a log in progress keeps it
    os.utime(store.objects.path(fresh), (old, old))
    store.objects.put_bytes(b"fresh orphan")
    assert gc(tmp_path, grace_seconds=3600) == (0, 0)


def test_put_file_one_pass_and_two_pass_paths_agree(tmp_path: Path) -> None:
    """New files after a new one are copied while hashed; known ones are only hashed. Either
    way every object is named by its bytes, and no temporary file is left behind."""
    import hashlib

    store = ObjectStore(tmp_path / "root")
    files = {}
    for name, data in [("a", b"A" * 3_000_000), ("b", b"B" * 10), ("c", b""), ("a2", b"A" * 3_000_000),
                       ("d", b"D" * (1 << 20)), ("b2", b"B" * 10)]:
        files[name] = tmp_path / name
        files[name].write_bytes(data)
        digest, size = store.put_file(files[name])
        assert digest == hashlib.sha256(data).hexdigest() and size == len(data)
        assert store.path(digest).read_bytes() == data
    stored = sorted(p.name for p in store.dir.rglob("*") if p.is_file())
    assert len(stored) == 4 and not [s for s in stored if s.startswith(".tmp-")]


def test_digest_index_dedups_and_is_rebuilt_when_missing(tmp_path: Path) -> None:
    import shutil

    store = ArtifactStore(tmp_path)
    first = _manifest(store, {"a": b"1"})
    second = _manifest(store, {"a": b"2"})
    assert store.commit("e", "p", "n", first) == (0, True)
    assert store.commit("e", "p", "n", second) == (1, True)
    index = store.name_dir("e", "p", "n") / "digests"
    assert sorted(p.name for p in index.iterdir()) == sorted([first["digest"], second["digest"]])
    shutil.rmtree(index)  # a store written before the index existed
    assert store.commit("e", "p", "n", _manifest(store, {"a": b"1"})) == (0, False)
    assert store.find_digest("e", "p", "n", second["digest"]) == 1
    assert store.find_digest("e", "p", "other", second["digest"]) is None
    assert not store.name_dir("e", "p", "other").exists()  # a lookup creates nothing

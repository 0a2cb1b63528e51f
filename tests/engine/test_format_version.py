"""Readers check `format_version`: a file written by a newer runlake is refused with a clear
error, and a store-wide query leaves it out with one warning instead of failing."""

from __future__ import annotations

import json
import warnings

import pytest
from runlake.engine.layout import FORMAT_VERSION, RunPaths
from runlake.engine.meta import RunMeta, check_version, read_versioned
from runlake.engine.objects import ArtifactStore, gc, lineage_edges
from runlake.engine.recovery import recover_run
from runlake.errors import FormatVersionError

import runlake

NEWER = FORMAT_VERSION + 1


def _bump(path, version=NEWER):
    data = json.loads(path.read_text(encoding="utf-8"))
    data["format_version"] = version
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def store(tmp_path):
    for run_id in ("old", "new"):
        with runlake.init(settings={"root": tmp_path}, project="p", id=run_id, reinit="finish_previous") as run:
            run.log({"x": 1.0})
    newer = RunPaths.of(tmp_path, "local", "p", "new")
    _bump(newer.meta_file)
    return tmp_path, newer


def test_the_error_names_file_versions_and_the_fix(store):
    _, newer = store
    with pytest.raises(FormatVersionError) as info:
        RunMeta.load(newer.meta_file)
    text = str(info.value)
    assert str(newer.meta_file) in text and f"format_version {NEWER}" in text
    assert f"reads format_version {FORMAT_VERSION}" in text and "upgrade runlake" in text
    assert isinstance(info.value, ValueError) and isinstance(info.value, runlake.Error)


@pytest.mark.parametrize("version", [1, None])
def test_current_and_older_files_are_read(tmp_path, version):
    data = {"id": "r"} if version is None else {"format_version": version, "id": "r"}
    assert check_version(data, tmp_path / "run.json") == data


@pytest.mark.parametrize("version", [NEWER, "2", True])
def test_newer_or_unreadable_versions_are_refused(tmp_path, version):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"format_version": version}))
    with pytest.raises(FormatVersionError):
        read_versioned(path)


def test_store_wide_queries_skip_the_run_with_one_warning(store):
    root, _ = store
    api = runlake.Api(root=root)
    with pytest.warns(UserWarning, match="run local/p/new left out") as caught:
        ids = [r.id for r in api.runs("local/p")]
    assert ids == ["old"]
    assert len([w for w in caught if "left out" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert api.sql("SELECT id FROM runs").fetchall() == [("old",)]
        with pytest.raises(FormatVersionError, match="upgrade runlake"):
            api.run("local/p/new")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: later queries are silent
        assert api.run("local/p/old").id == "old"
        assert [r.id for r in api.runs("local/p")] == ["old"]


def test_recovery_and_resume_never_touch_a_newer_run(store):
    root, newer = store
    _bump(newer.meta_file)  # (again: a "running" newer run whose owner is gone)
    data = json.loads(newer.meta_file.read_text())
    data["state"] = "running"
    newer.meta_file.write_text(json.dumps(data))
    before = newer.meta_file.read_bytes()
    assert recover_run(newer) is False
    assert newer.meta_file.read_bytes() == before
    with pytest.raises(FormatVersionError):
        runlake.init(settings={"root": root}, project="p", id="new", resume="must")
    assert newer.meta_file.read_bytes() == before


def test_artifact_manifests_are_checked(tmp_path):
    store = ArtifactStore(tmp_path)
    digest, size = store.objects.put_bytes(b"weights")
    entries = {"w.bin": {"digest": digest, "size": size}}
    for name, fake_digest in (("old", "a" * 64), ("new", "b" * 64)):
        store.commit("local", "p", name, {
            "type": "model", "entries": entries, "digest": fake_digest,
            "producer": {"entity": "local", "project": "p", "run_id": "r"}})
    manifest = store.name_dir("local", "p", "new") / "v0.json"
    _bump(manifest)
    with pytest.raises(FormatVersionError, match="v0.json"):
        store.manifest("local", "p", "new", 0)
    assert store.manifest("local", "p", "old", 0)["entries"] == entries
    with pytest.warns(UserWarning, match="artifact local/p/new:v0 left out"):
        edges = lineage_edges(tmp_path)
    assert [e["artifact_name"] for e in edges] == ["old"]
    # gc cannot know what a newer manifest references: it refuses rather than delete.
    with pytest.raises(FormatVersionError):
        gc(tmp_path, grace_seconds=0)
    assert store.objects.has(digest)

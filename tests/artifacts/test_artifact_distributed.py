"""run.upsert_artifact / run.finish_artifact (distributed versions) and run.link_artifact
(portfolios)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
import runlake
from runlake.errors import InvalidNameError, UsageError
from runlake.engine.objects import gc


@pytest.fixture(autouse=True)
def _store(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAKE_DIR", str(root))


def _file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _art(files: dict[str, str], type: str = "dataset", name: str = "shards") -> runlake.Artifact:
    art = runlake.Artifact(name, type)
    for path, text in files.items():
        with art.new_file(path) as f:
            f.write(text)
    return art


def _worker(root: str, worker: int, rounds: int) -> None:
    os.environ["RUNLAKE_DIR"] = root
    with runlake.init(project="p", group="job-7") as run:
        for i in range(rounds):
            run.upsert_artifact(_art({f"w{worker}/part-{i}.txt": f"{worker}:{i}"}))


@pytest.mark.slow
def test_concurrent_upserts_from_processes_lose_no_file(root: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(root), w, 5)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with runlake.init(project="p", group="job-7") as run:
        done = run.finish_artifact(_art({"index.txt": "4 workers"}))
    assert done.version == "v0" and done.state == "COMMITTED"
    expected = {f"w{w}/part-{i}.txt" for w in range(4) for i in range(5)} | {"index.txt"}
    assert set(done.files()) == expected
    read = runlake.Api(root).artifact("p/shards:latest")
    out = Path(read.download(root.parent / "out"))
    assert (out / "w3" / "part-4.txt").read_text() == "3:4"
    assert not list((root / "artifacts").rglob("part-*.json"))  # staging is gone


def test_finish_commits_once_and_a_later_upsert_starts_the_next_version(root: Path) -> None:
    with runlake.init(project="p") as run:
        first = run.upsert_artifact(_art({"a.txt": "a"}), distributed_id="d1", aliases=["rc"])
        assert first.state == "PENDING" and first.version is None
        with pytest.raises(UsageError, match="upserted"):
            first.add_file(_file(root.parent / "x.txt", "x"))
        run.upsert_artifact(_art({"b.txt": "b"}), distributed_id="d1")
        with pytest.raises(runlake.Error, match="does not exist"):  # nothing committed yet
            runlake.Api(root).artifact_versions("dataset", "p/shards")
        v0 = run.finish_artifact(runlake.Artifact("shards", "dataset"), distributed_id="d1")
        assert v0.version == "v0" and v0.files() == ["a.txt", "b.txt"]
        assert v0.aliases == ["latest", "rc"]
        assert v0.metadata == {} and v0.digest
        run.upsert_artifact(_art({"c.txt": "c"}), distributed_id="d1")
        v1 = run.finish_artifact(runlake.Artifact("shards", "dataset"), distributed_id="d1")
    assert v1.version == "v1" and v1.files() == ["c.txt"]
    producer = runlake.Api(root).run("local/p/" + run.id).logged_artifacts()
    assert [a.version for a in producer] == ["v0", "v1"]


def test_distributed_id_defaults_to_the_group(root: Path) -> None:
    with runlake.init(project="p", group="g1") as run:
        run.upsert_artifact(_art({"a.txt": "a"}))
        assert (root / "artifacts/entity=local/project=p/name=shards/staging/g1").is_dir()
        assert run.finish_artifact(runlake.Artifact("shards", "dataset")).files() == ["a.txt"]
    with runlake.init(project="p") as run:
        with pytest.raises(UsageError, match="distributed_id"):
            run.upsert_artifact(_art({"a.txt": "a"}))
        with pytest.raises(InvalidNameError):
            run.upsert_artifact(_art({"a.txt": "a"}), distributed_id="../escape")


def test_refused_finish_keeps_every_part(root: Path) -> None:
    with runlake.init(project="p") as run:
        run.upsert_artifact(_art({"same.txt": "one"}), distributed_id="d")
        run.upsert_artifact(_art({"same.txt": "two"}), distributed_id="d")
        with pytest.raises(UsageError, match="same.txt"):
            run.finish_artifact(runlake.Artifact("shards", "dataset"), distributed_id="d")
        staged = root / "artifacts/entity=local/project=p/name=shards/staging/d"
        assert len(list(staged.glob("part-*.json"))) == 2
        with pytest.raises(UsageError, match="type"):
            run.finish_artifact(runlake.Artifact("shards", "model"), distributed_id="d")
        with pytest.raises(UsageError, match="nothing was upserted"):
            run.finish_artifact(runlake.Artifact("shards", "dataset"), distributed_id="other")
        assert len(list(staged.glob("part-*.json"))) == 2


def test_gc_keeps_objects_of_staged_parts(root: Path) -> None:
    with runlake.init(project="p") as run:
        run.upsert_artifact(_art({"big.bin": "payload"}), distributed_id="d")
        assert gc(root, grace_seconds=0) == (0, 0)
        done = run.finish_artifact(runlake.Artifact("shards", "dataset"), distributed_id="d")
    assert gc(root, grace_seconds=0) == (0, 0)
    out = Path(done.download(root.parent / "dl"))
    assert (out / "big.bin").read_text() == "payload"


def test_upsert_and_finish_with_paths(tmp_path: Path, root: Path) -> None:
    _file(tmp_path / "d" / "x.txt", "x")
    with runlake.init(project="p") as run:
        art = run.upsert_artifact(str(tmp_path / "d"), name="dir", type="data",
                                  distributed_id="z")
        done = run.finish_artifact(str(_file(tmp_path / "y.txt", "y")), name="dir", type="data",
                                   distributed_id="z")
    assert art.name == "dir" and done.files() == ["x.txt", "y.txt"]


def _logged(run: runlake.Run, text: str, name: str = "model", type: str = "model"):
    return run.log_artifact(_art({"w.bin": text}, type=type, name=name))


def test_link_artifact_portfolio_forms_and_latest(root: Path) -> None:
    objects = root / "artifacts" / "objects"
    with runlake.init(project="p") as run:
        v0 = _logged(run, "weights-0")
        run.link_artifact(v0, "best-models", aliases=["staging"])
        before = sorted(objects.rglob("*"))
        v1 = _logged(run, "weights-1")
        run.link_artifact(v1, "p/best-models", aliases=["production"])
        run.link_artifact(v1, "local/other/zoo")
        assert sorted(objects.rglob("*")) != before  # v1's bytes, stored once
        n_objects = len([p for p in objects.rglob("*") if p.is_file()])
        run.link_artifact(v1, "best-models")  # the same contents again: no new link
    api = runlake.Api(root)
    links = api.artifact_versions("model", "p/best-models")
    assert [a.version for a in links] == ["v0", "v1"]
    latest = api.artifact("p/best-models:latest")
    assert latest.version == "v1" and latest.digest == v1.digest
    assert api.artifact("p/best-models:staging").digest == v0.digest
    assert api.artifact("p/best-models:production").version == "v1"
    # portfolio aliases stay in the portfolio
    assert api.artifact("p/model:latest").aliases == ["latest"]
    assert api.artifact("local/other/zoo:v0").files() == ["w.bin"]
    assert n_objects == len([p for p in objects.rglob("*") if p.is_file()])  # links copy nothing
    out = Path(latest.download(root.parent / "dl"))
    assert (out / "w.bin").read_text() == "weights-1"


def test_link_artifact_bad_input(root: Path) -> None:
    with runlake.init(project="p") as run:
        with pytest.raises(UsageError, match="not logged"):
            run.link_artifact(_art({"a": "a"}), "portfolio")
        v0 = _logged(run, "w")
        for bad in ("a/b/c/d", "../up", "", "p/..", "x/y z"):
            with pytest.raises(InvalidNameError):
                run.link_artifact(v0, bad)
        with pytest.raises(TypeError):
            run.link_artifact("model:v0", "portfolio")
    assert not (root / "artifacts" / "entity=local" / "project=..").exists()


def test_digest_is_a_version_reference(root: Path) -> None:
    with runlake.init(project="p") as run:
        v0 = _logged(run, "a")
        _logged(run, "b")
        assert run.use_artifact(f"model:{v0.digest}").version == "v0"
        with pytest.raises(InvalidNameError, match="digest"):
            run.log_artifact(_art({"c": "c"}), aliases=[v0.digest])


def test_disabled_run_makes_these_no_ops(tmp_path: Path) -> None:
    with runlake.init(mode="disabled") as run:
        art = _art({"a.txt": "a"})
        assert run.upsert_artifact(art, distributed_id="d") is art
        assert run.finish_artifact(art, distributed_id="d") is art
        assert run.link_artifact(art, "portfolio") is None

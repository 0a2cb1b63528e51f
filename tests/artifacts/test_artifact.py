"""runlake.Artifact, run.log_artifact / use_artifact, and Api().artifact."""

from __future__ import annotations

import http.server
import json
import multiprocessing
import threading
from pathlib import Path

import pytest
import runlake
from runlake.errors import Error, InvalidNameError, UsageError
from runlake.engine.objects import ArtifactNotFoundError, CorruptObjectError


def _file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _objects(root: Path) -> list[Path]:
    return [p for p in (root / "artifacts" / "objects").rglob("*") if p.is_file()]


def test_log_and_read_back(tmp_path: Path, root: Path) -> None:
    data = _file(tmp_path / "src" / "a.txt", "alpha")
    _file(tmp_path / "src" / "sub" / "b.txt", "beta")
    art = runlake.Artifact("mnist", type="dataset", description="d", metadata={"n": 2})
    assert art.state == "PENDING" and art.version is None
    art.add_dir(tmp_path / "src", name="data")
    art.add_file(data, name="top.txt")
    with art.new_file("notes/readme.md") as f:
        f.write("hello")
    assert art.files() == ["data/a.txt", "data/sub/b.txt", "notes/readme.md", "top.txt"]
    with _init(root) as run:
        out = run.log_artifact(art, aliases=["best"], tags=["raw"])
    assert out is art
    assert art.state == "COMMITTED" and art.version == "v0"
    assert art.source_name == "mnist:v0" and art.qualified_name == "local/p/mnist:v0"
    assert art.aliases == ["best", "latest"] and art.tags == ["raw"]
    assert art.size == len("alpha") * 2 + len("beta") + len("hello")
    assert art.created_at and len(art.digest) == 64

    read = runlake.Api(root).artifact("local/p/mnist:best")
    assert read.files() == art.files() and read.digest == art.digest
    assert read.metadata == {"n": 2} and read.description == "d" and read.type == "dataset"
    dest = Path(read.download(tmp_path / "out"))
    assert (dest / "data" / "sub" / "b.txt").read_text() == "beta"
    assert (dest / "notes" / "readme.md").read_text() == "hello"
    read.verify(dest)
    (dest / "top.txt").write_text("tampered")
    with pytest.raises(CorruptObjectError):
        read.verify(dest)
    assert runlake.Api(root).artifact("p/mnist:v0").version == "v0"
    assert read.get_entry("top.txt")["size"] == 5
    # a.txt and top.txt have the same bytes: one object
    assert len(_objects(root)) == 3


def _init(root: Path, **kw):
    import os

    os.environ["RUNLAKE_DIR"] = str(root)
    try:
        return runlake.init(project=kw.pop("project", "p"), **kw)
    finally:
        del os.environ["RUNLAKE_DIR"]


def test_versions_aliases_dedup(tmp_path: Path, root: Path) -> None:
    big = _file(tmp_path / "big.bin", "x" * 10000)
    with _init(root) as run:
        v = []
        for i, alias in enumerate(["a", "b", "a"]):
            art = runlake.Artifact("ds", "dataset")
            art.add_file(big)
            with art.new_file("i.txt") as f:
                f.write(str(i))
            v.append(run.log_artifact(art, aliases=[alias]))
        assert [a.version for a in v] == ["v0", "v1", "v2"]
        # identical contents again: the existing version comes back, alias moved onto it
        again = runlake.Artifact("ds", "dataset")
        again.add_file(big)
        with again.new_file("i.txt") as f:
            f.write("0")
        run.log_artifact(again, aliases=["b"])
        assert again.version == "v0" and again.digest == v[0].digest
    api = runlake.Api(root)
    assert api.artifact("p/ds:a").version == "v2"
    assert api.artifact("p/ds:b").version == "v0"
    assert api.artifact("p/ds:latest").version == "v2"
    assert api.artifact("p/ds").version == "v2"
    assert [a.version for a in api.artifact_versions("dataset", "p/ds")] == ["v0", "v1", "v2"]
    assert api.artifact_versions("model", "p/ds") == []
    # big.bin once, and three distinct i.txt contents
    assert len(_objects(root)) == 4


def test_log_artifact_path_and_single_file(tmp_path: Path, root: Path) -> None:
    model = _file(tmp_path / "model.pt", "weights")
    with _init(root) as run:
        art = run.log_artifact(model, type="model")
        assert art.name == f"run-{run.id}-model.pt:v0" and art.type == "model"
        run_id = run.id
    read = runlake.Api(root).artifact(f"p/run-{run_id}-model.pt:latest")
    assert Path(read.file(tmp_path / "dl")).read_text() == "weights"


def test_use_artifact_lineage(tmp_path: Path, root: Path) -> None:
    f = _file(tmp_path / "a.txt", "a")
    with _init(root) as producer:
        art = runlake.Artifact("ds", "dataset")
        art.add_file(f)
        producer.log_artifact(art)
        pid = producer.id
    with _init(root, project="q") as consumer:
        used = consumer.use_artifact("p/ds:latest", type="dataset", aliases=["prod"])
        assert used.version == "v0" and "prod" in used.aliases
        assert consumer.use_artifact("local/p/ds:v0").digest == used.digest
        with pytest.raises(ArtifactNotFoundError):
            consumer.use_artifact("p/ds:v9")
        with pytest.raises(ArtifactNotFoundError):
            consumer.use_artifact("ds:latest")  # not in project q
        with pytest.raises(ValueError):
            consumer.use_artifact("p/ds:latest", type="model")
        with pytest.raises(UsageError):
            consumer.use_artifact(runlake.Artifact("new", "dataset"))
        cid = consumer.id
    api = runlake.Api(root)
    assert [a.qualified_name for a in api.run(f"local/p/{pid}").logged_artifacts()] == ["local/p/ds:v0"]
    assert [a.qualified_name for a in api.run(f"local/q/{cid}").used_artifacts()] == ["local/p/ds:v0"]
    assert api.run(f"local/q/{cid}").logged_artifacts() == []
    assert api.artifact("p/ds:prod").version == "v0"


def test_references(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: unreadable
    f = _file(tmp_path / "ref.txt", "referenced")
    art = runlake.Artifact("refs", "dataset")
    art.add_reference(f.as_uri())
    art.add_reference("s3://bucket/key/data.csv")
    assert art.get_entry("ref.txt")["checksum"] and art.get_entry("data.csv")["checksum"] is None
    with _init(root) as run:
        run.log_artifact(art)
    assert _objects(root) == []  # references are never copied
    art._entries.pop("data.csv")  # s3 cannot be fetched locally
    out = Path(art.download(tmp_path / "dl"))
    assert (out / "ref.txt").read_text() == "referenced"


def test_remove_and_pending_rules(tmp_path: Path) -> None:
    art = runlake.Artifact("x", "t")
    art.add_file(_file(tmp_path / "a", "1"), name="d/a")
    art.add_file(_file(tmp_path / "b", "2"), name="d/b")
    art.remove("d")
    assert art.files() == []
    with pytest.raises(KeyError):
        art.remove("nope")
    with pytest.raises(UsageError):
        art.download(tmp_path / "out")


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "a\0b"])
def test_path_escape_rejected_at_add(tmp_path: Path, bad: str) -> None:
    art = runlake.Artifact("x", "t")
    src = _file(tmp_path / "a", "1")
    with pytest.raises(InvalidNameError):
        art.add_file(src, name=bad)
    with pytest.raises(InvalidNameError), art.new_file(bad):
        pass
    with pytest.raises(InvalidNameError):
        art.add_reference(src.as_uri(), name=bad)


def test_download_refuses_tampered_manifest(tmp_path: Path, root: Path) -> None:
    with _init(root) as run:
        art = runlake.Artifact("x", "t")
        art.add_file(_file(tmp_path / "a", "1"))
        run.log_artifact(art)
    manifest = next((root / "artifacts").glob("entity=*/project=*/name=x/v0.json"))
    body = json.loads(manifest.read_text())
    body["entries"]["../../escaped"] = body["entries"].pop("a")
    manifest.write_text(json.dumps(body))
    with pytest.raises(InvalidNameError):
        runlake.Api(root).artifact("p/x:v0").download(tmp_path / "dl" / "inner")
    assert not (tmp_path / "escaped").exists()
    # a symlink inside the root pointing out is not followed either
    read = runlake.Api(root).artifact("p/x:v0")
    read._entries = {"link/f": read._entries["../../escaped"]}
    (tmp_path / "dl2").mkdir()
    (tmp_path / "dl2" / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidNameError):
        read.download(tmp_path / "dl2")


@pytest.mark.parametrize("bad", ["../evil", "a/b", "", "x y", ".hidden"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        runlake.Artifact(bad, "dataset")


def test_bad_aliases_and_artifact_paths(tmp_path: Path, root: Path) -> None:
    with _init(root) as run:
        art = runlake.Artifact("x", "t")
        art.add_file(_file(tmp_path / "a", "1"))
        with pytest.raises(InvalidNameError):
            run.log_artifact(art, aliases=["../up"])
        with pytest.raises(InvalidNameError):
            run.use_artifact("a/b/c/d:latest")
        with pytest.raises(UsageError):
            run.log_artifact(runlake.Artifact("empty", "t"))
    assert issubclass(ArtifactNotFoundError, Error)


def _log_many(root: str, worker: int) -> None:
    import os

    os.environ["RUNLAKE_DIR"] = root
    with runlake.init(project="p") as run:
        for i in range(4):
            art = runlake.Artifact("shared", "dataset")
            with art.new_file("f.txt") as f:
                f.write(f"{worker}-{i}")
            run.log_artifact(art)


@pytest.mark.slow
def test_concurrent_log_artifact(root: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_log_many, args=(str(root), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    versions = runlake.Api(root).artifact_versions("dataset", "p/shared")
    assert [a.version for a in versions] == [f"v{i}" for i in range(12)]
    assert len({a.digest for a in versions}) == 12


def test_disabled_and_finished_runs(tmp_path: Path, root: Path) -> None:
    art = runlake.Artifact("x", "t")
    art.add_file(_file(tmp_path / "a", "1"))
    with runlake.init(mode="disabled") as run:
        assert run.log_artifact(art) is art and art.state == "PENDING"
        with pytest.raises(UsageError, match="disabled"):
            run.use_artifact("x:latest")
    run = _init(root)
    run.finish()
    with pytest.raises(UsageError, match="finished"):
        run.log_artifact(art)
    with pytest.raises(UsageError):
        art.verify()  # not logged: nothing to verify against


def test_logged_artifact_is_frozen(tmp_path: Path, root: Path) -> None:
    art = runlake.Artifact("x", "t")
    art.add_file(_file(tmp_path / "a", "1"))
    with _init(root) as run:
        run.log_artifact(art)
    with pytest.raises(UsageError, match="new runlake.Artifact"):
        art.add_file(tmp_path / "a", name="b")
    assert runlake.ArtifactNotFoundError is ArtifactNotFoundError


def test_folder_reference_and_bad_arguments(tmp_path: Path, root: Path) -> None:
    _file(tmp_path / "ref" / "a.txt", "a")
    _file(tmp_path / "ref" / "sub" / "b.txt", "b")
    art = runlake.Artifact("x", "t")
    art.add_reference((tmp_path / "ref").as_uri(), name="r")
    assert art.files() == ["r/a.txt", "r/sub/b.txt"]
    with pytest.raises(ValueError):
        art.add_reference((tmp_path / "missing").as_uri())
    with _init(root) as run:
        with pytest.raises(TypeError):
            run.log_artifact(123)
        with pytest.raises(ValueError):
            run.log_artifact(tmp_path / "missing")
        run.log_artifact(tmp_path / "ref", name="refdir", type="dataset")
    read = runlake.Api(root).artifact("p/refdir:v0")
    assert read.files() == ["a.txt", "sub/b.txt"]
    with pytest.raises(UsageError, match="exactly one"):
        read.file(tmp_path / "dl")


def test_lineage_view_in_sql(tmp_path: Path, root: Path) -> None:
    with _init(root) as producer:
        art = runlake.Artifact("ds", "dataset")
        art.add_file(_file(tmp_path / "a", "1"))
        producer.log_artifact(art)
    with _init(root, project="q") as consumer:
        consumer.use_artifact("p/ds:latest", use_as="training data")
        with pytest.raises(TypeError, match="use_as"):
            consumer.use_artifact("p/ds:latest", use_as=3)
    api = runlake.Api(root)
    rows = api.sql(
        "SELECT role, run_project, run_id, artifact_name, version, use_as FROM lineage "
        "ORDER BY role"
    ).fetchall()
    assert rows == [("consumer", "q", consumer.id, "ds", "v0", "training data"),
                    ("producer", "p", producer.id, "ds", "v0", None)]
    assert [a.version for a in api.artifacts("dataset", "p/ds")] == ["v0"]


def test_lineage_view_empty_store(root: Path) -> None:
    assert runlake.Api(root).sql("SELECT count(*) FROM lineage").fetchall() == [(0,)]


class _S3Handler(http.server.BaseHTTPRequestHandler):
    objects: dict[str, tuple[str, int]] = {}

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        found = self.objects.get(self.path)
        self.send_response(200 if found else 403)
        if found:
            self.send_header("ETag", found[0])
            self.send_header("Content-Length", str(found[1]))
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_s3_reference_records_etag_from_an_s3_compatible_server(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _S3Handler.objects = {"/bucket/data/train.csv": ('"9b2cf535f27731c974343645a3985328"', 1234)}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _S3Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.server_port}")
        art = runlake.Artifact("remote", "dataset")
        art.add_reference("s3://bucket/data/train.csv")
        art.add_reference("s3://bucket/private.bin")  # 403: recorded by URI alone
        assert art.get_entry("train.csv")["checksum"] == "9b2cf535f27731c974343645a3985328"
        assert art.get_entry("train.csv")["size"] == 1234
        assert art.get_entry("private.bin")["checksum"] is None
        with _init(root) as run:
            first = run.log_artifact(art)
            _S3Handler.objects["/bucket/data/train.csv"] = ('"changed"', 99)
            again = runlake.Artifact("remote", "dataset")
            again.add_reference("s3://bucket/data/train.csv")
            again.add_reference("s3://bucket/private.bin")
            second = run.log_artifact(again)
        assert (first.version, second.version) == ("v0", "v1")  # the ETag moved the digest
        assert _objects(root) == []
    finally:
        server.shutdown()
        server.server_close()


def _linked_folder(tmp_path: Path) -> Path:
    """A folder with a real file, a link inside it, a link to a file outside, a linked folder."""
    src = tmp_path / "linked"
    _file(src / "real.txt", "real")
    _file(tmp_path / "outside" / "secret.txt", "secret")
    _file(tmp_path / "outside" / "sub" / "deep.txt", "deep")
    (src / "inside-link.txt").symlink_to("real.txt")
    (src / "outside-link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (src / "dir-link").symlink_to(tmp_path / "outside" / "sub")
    return src


def test_add_dir_follows_file_symlinks_as_wandb_does_and_says_so(tmp_path: Path) -> None:
    art = runlake.Artifact("linked", type="dataset")
    with pytest.warns(UserWarning, match=r"1 file\(s\) are symlinks to files outside.*"
                                         r"outside-link.txt.*follow_symlinks=False"):
        art.add_dir(_linked_folder(tmp_path))
    assert art.files() == ["inside-link.txt", "outside-link.txt", "real.txt"]


def test_add_dir_can_leave_out_links_that_lead_outside(tmp_path: Path) -> None:
    art = runlake.Artifact("linked", type="dataset")
    with pytest.warns(UserWarning, match="left out"):
        art.add_dir(_linked_folder(tmp_path), follow_symlinks=False)
    assert art.files() == ["inside-link.txt", "real.txt"]


def test_add_dir_without_outside_links_is_quiet(tmp_path: Path, recwarn) -> None:
    src = tmp_path / "plain"
    _file(src / "a.txt", "a")
    (src / "b.txt").symlink_to("a.txt")
    runlake.Artifact("plain", type="dataset").add_dir(src)
    assert not [w for w in recwarn if "symlink" in str(w.message)]

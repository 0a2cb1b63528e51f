"""layout: name validation, the Hive-partitioned paths of a run, and the store root."""

from __future__ import annotations

from pathlib import Path

import pytest
import runlake
from runlake.engine import layout
from runlake.errors import Error, InvalidNameError, InvalidValueError
from runlake.engine.layout import (
    PARTITION_KEYS,
    RunPaths,
    UnsupportedRootError,
    check_root,
    project_dir,
    resolve_root,
    store_under,
    seq_of,
    validate_name,
)

GOOD = ["a", "mnist", "mnist-v2", "Run_01", "0", "_x", "a.b", "a.b-c_d", "x" * 128, "a."]
BAD = [
    "", ".", "..", ".hidden", "-dash", "a..b", "../etc", "a/b", "/abs", "a\\b", "\\",
    "a\x00b", "\x00", "a\nb", "a\n", "a\tb", "a\x7f", "a\x1b", "a b", "x" * 129, "x" * 10_000,
    "ä", "a:b", "a*b", "a=b",
]


@pytest.mark.parametrize("name", GOOD)
def test_validate_name_accepts_good_names(name):
    assert validate_name("project", name) == name


@pytest.mark.parametrize("name", BAD)
def test_validate_name_rejects_bad_names(name):
    with pytest.raises(InvalidNameError) as info:
        validate_name("project", name)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, Error)
    assert isinstance(info.value, runlake.Error)
    assert "project" in str(info.value)


def test_long_name_is_shortened_in_the_message():
    with pytest.raises(InvalidNameError) as info:
        validate_name("run id", "y" * 10_000)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("value", [None, 1, 1.5, b"abc", ["a"], Path("a"), object()])
def test_validate_name_rejects_non_strings(value):
    with pytest.raises(InvalidNameError, match="must be a string"):
        validate_name("entity", value)


@pytest.mark.parametrize("field", ["entity", "project", "run_id"])
@pytest.mark.parametrize("bad", ["..", "a/../b", "a/b", "a\\b", "a\x00", ""])
def test_run_paths_of_validates_every_component(tmp_path, field, bad):
    parts = {"entity": "e", "project": "p", "run_id": "r", field: bad}
    with pytest.raises(InvalidNameError):
        RunPaths.of(tmp_path, parts["entity"], parts["project"], parts["run_id"])


def test_project_dir_validates(tmp_path):
    with pytest.raises(InvalidNameError):
        project_dir(tmp_path, "e", "..")
    assert project_dir(tmp_path, "e", "p") == tmp_path / "runs" / "entity=e" / "project=p"


def test_run_paths_are_under_the_root_with_hive_partitions(tmp_path):
    root = tmp_path / "store"
    p = RunPaths.of(root, "ent", "proj", "run1")
    hive = ("entity=ent", "project=proj", "run_id=run1")
    assert PARTITION_KEYS == ("entity", "project", "run_id")
    assert p.history_dir == root.joinpath("history", *hive)
    assert p.run_dir == root.joinpath("runs", *hive)
    assert p.meta_file == p.run_dir / "run.json"
    assert p.wal_dir == p.run_dir / "wal"
    assert p.files_dir == p.run_dir / "files"
    assert p.wal_file(3) == p.wal_dir / "000003.arrows"
    assert p.segment_file(12) == p.history_dir / "part-000012.parquet"
    for path in (p.history_dir, p.run_dir, p.meta_file, p.wal_dir, p.files_dir,
                 p.wal_file(0), p.segment_file(999_999)):
        resolved = path.resolve()
        assert resolved.is_relative_to(root.resolve())
        assert ".." not in path.parts


def test_seq_of_reads_back_the_sequence_number(tmp_path):
    p = RunPaths.of(tmp_path, "e", "p", "r")
    for seq in (0, 1, 41, 999_999, 1_234_567):
        assert seq_of(p.wal_file(seq)) == seq
        assert seq_of(p.segment_file(seq)) == seq


def test_resolve_root_argument_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNLAKE_DIR", str(tmp_path / "from-env"))
    assert resolve_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_root(str(tmp_path / "arg2")) == tmp_path / "arg2"


def test_resolve_root_env_then_default(tmp_path, monkeypatch):
    # conftest chdirs into tmp_path and clears RUNLAKE_* and WANDB_*.
    assert resolve_root() == Path.cwd() / "runlake-store"
    assert resolve_root() == tmp_path / "runlake-store"
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "from-wandb"))  # a parent, as init(dir=)
    assert resolve_root() == tmp_path / "from-wandb" / "runlake-store"
    monkeypatch.setenv("RUNLAKE_DIR", str(tmp_path / "from-env"))  # the store root itself
    assert resolve_root() == tmp_path / "from-env"
    monkeypatch.setenv("RUNLAKE_DIR", "")  # empty means unset
    monkeypatch.setenv("WANDB_DIR", "")
    assert resolve_root() == tmp_path / "runlake-store"


@pytest.fixture
def notice(monkeypatch):
    """A fresh process as far as the once-per-process notice is concerned."""
    monkeypatch.setattr(layout, "_noticed", set())


def _legacy_store(tmp_path: Path, sub: str = "runs") -> Path:
    (tmp_path / "runlake" / sub / "entity=local").mkdir(parents=True)
    return tmp_path / "runlake"


@pytest.mark.parametrize("sub", ["runs", "history"])
def test_an_old_default_store_is_still_used_with_one_notice(tmp_path, capsys, notice, sub):
    legacy = _legacy_store(tmp_path, sub)
    assert resolve_root() == legacy
    assert resolve_root() == legacy
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.count("runlake:") == 1, err  # one line, once
    assert str(legacy) in err and str(tmp_path / "runlake-store") in err
    assert "mv runlake runlake-store" in err and "editable install" in err


def test_an_old_default_store_is_not_used_once_the_new_one_exists(tmp_path, capsys, notice):
    _legacy_store(tmp_path)
    (tmp_path / "runlake-store").mkdir()
    assert resolve_root() == tmp_path / "runlake-store"
    assert capsys.readouterr().err == ""


def test_a_runlake_folder_without_a_store_is_not_used(tmp_path, capsys, notice):
    (tmp_path / "runlake").mkdir()
    (tmp_path / "runlake" / "__init__.py").write_text("")  # e.g. a source checkout
    (tmp_path / "runlake" / "other").mkdir()
    assert resolve_root() == tmp_path / "runlake-store"
    assert capsys.readouterr().err == ""


def test_the_environment_and_the_argument_win_over_an_old_store(tmp_path, capsys, notice,
                                                               monkeypatch):
    _legacy_store(tmp_path)
    assert resolve_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.setenv("RUNLAKE_DIR", str(tmp_path / "from-env"))
    assert resolve_root() == tmp_path / "from-env"
    assert capsys.readouterr().err == ""


def test_init_writes_into_an_old_default_store(tmp_path, capsys, notice):
    legacy = _legacy_store(tmp_path)
    with runlake.init(project="p") as run:
        run.log({"x": 1})
    assert (legacy / "history" / "entity=local" / "project=p" / f"run_id={run.id}").is_dir()
    assert not (tmp_path / "runlake-store").exists()
    assert runlake.Api().run(f"p/{run.id}").summary["x"] == 1
    assert capsys.readouterr().err.count("mv runlake runlake-store") == 1


def test_the_order_settings_root_runlake_dir_init_dir_wandb_dir_default(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "w"))
    assert resolve_root(parent=tmp_path / "d") == tmp_path / "d" / "runlake-store"
    assert resolve_root() == tmp_path / "w" / "runlake-store"
    monkeypatch.setenv("RUNLAKE_DIR", str(tmp_path / "r"))
    assert resolve_root(parent=tmp_path / "d") == tmp_path / "r"
    assert resolve_root(tmp_path / "s", parent=tmp_path / "d") == tmp_path / "s"


def test_a_store_written_at_a_dir_by_the_old_meaning_is_still_used(tmp_path, capsys, notice):
    old = tmp_path / "old"
    (old / "history").mkdir(parents=True)
    assert store_under(old) == old
    assert store_under(old) == old
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(old / "runlake-store") in err, err  # one line, once
    (old / "runlake-store").mkdir()  # moved: the new place wins
    assert store_under(old) == old / "runlake-store"
    fresh = tmp_path / "fresh"
    assert store_under(fresh) == fresh / "runlake-store" and not fresh.exists()
    assert capsys.readouterr().err == ""


def test_init_dir_writes_under_the_folder_and_api_reads_it_as_root(tmp_path):
    with runlake.init(project="p", dir=tmp_path / "out") as run:
        run.log({"x": 1})
    store = tmp_path / "out" / "runlake-store"
    assert (store / "runs" / "entity=local" / "project=p" / f"run_id={run.id}").is_dir()
    assert runlake.Api(root=store).run(f"p/{run.id}").summary["x"] == 1


def test_init_keeps_writing_a_store_at_dir_from_the_old_meaning(tmp_path, capsys, notice):
    with runlake.init(project="p", settings={"root": tmp_path / "old"}) as run:
        run.log({"x": 1})
    with runlake.init(project="p", dir=tmp_path / "old") as second:
        second.log({"x": 2})
    assert not (tmp_path / "old" / "runlake-store").exists()
    api = runlake.Api(root=tmp_path / "old")
    assert {r.id for r in api.runs("p")} == {run.id, second.id}
    assert "init(dir=...)" in capsys.readouterr().err


URIS = ["s3://bucket/p", "gs://b", "az://c/d", "abfs://x@y.dfs.core.windows.net/p",
        "http://host/store", "https://host/store", "hdfs://nn:8020/p", "file:///tmp/store",
        "S3://Bucket", "s3:/bucket/p"]  # the last: what Path("s3://bucket/p") prints as


@pytest.mark.parametrize("uri", URIS)
def test_uri_roots_are_refused(tmp_path, uri):
    for given in (uri, Path(uri)):
        with pytest.raises(UnsupportedRootError, match="object-storage roots") as e:
            resolve_root(given)
        assert "local folder path" in str(e.value)
    assert isinstance(e.value, InvalidValueError) and isinstance(e.value, Error)
    assert repr(uri) in str(e.value) or repr(str(Path(uri))) in str(e.value)
    assert list(tmp_path.iterdir()) == []  # nothing like ./s3:/bucket was made


@pytest.mark.parametrize("name", ["RUNLAKE_DIR", "WANDB_DIR"])
def test_uri_roots_from_the_environment_are_refused(monkeypatch, name):
    monkeypatch.setenv(name, "s3://bucket/p")
    with pytest.raises(UnsupportedRootError, match=rf"\${name} is 's3://bucket/p'"):
        resolve_root()


@pytest.mark.parametrize("path", ["store", "./a/b", "/abs/store", "~/store", "C:/data",
                                  "a:b", "with space/x", "s3-bucket/p"])
def test_local_roots_pass_the_uri_check(path):
    assert check_root(path) == path
    assert check_root(Path(path)) == str(Path(path))


def test_resolve_root_is_absolute_and_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNLAKE_DIR", "rel/store")
    assert resolve_root() == tmp_path / "rel" / "store"
    assert resolve_root().is_absolute()
    assert resolve_root("~/store") == tmp_path / "home" / "store"

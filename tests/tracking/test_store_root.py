"""The store root through every entry point: URI roots are refused before anything is written,
and the default is ./runlake-store (engine/layout.py owns both rules; tests/engine/test_layout.py
checks them there)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import runlake
from runlake.cli.commands import main
from runlake.engine.layout import UnsupportedRootError

URI = "s3://bucket/p"


def _refused(excinfo: pytest.ExceptionInfo, where: str) -> None:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, runlake.InvalidValueError)
    assert f"{where} is {URI!r}" in message, message
    assert "not supported yet" in message and "local folder path" in message


def _nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "s3:").exists()
    assert not (tmp_path / "runlake-store").exists()


@pytest.mark.parametrize("mode", ["online", "offline", "disabled"])
def test_init_dir_uri_is_refused(tmp_path, mode):
    with pytest.raises(UnsupportedRootError) as e:
        runlake.init(project="p", dir=URI, mode=mode)
    _refused(e, "init(dir=...)")
    assert runlake.run is None
    _nothing_written(tmp_path)


def test_settings_root_uri_is_refused(tmp_path):
    for settings in (runlake.Settings(root=URI), {"root": URI}):
        with pytest.raises(UnsupportedRootError) as e:
            runlake.init(project="p", settings=settings)
        _refused(e, "Settings(root=...)")
    _nothing_written(tmp_path)


@pytest.mark.parametrize("name", ["RUNLAKE_DIR", "WANDB_DIR"])
def test_environment_uri_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.setenv(name, URI)
    with pytest.raises(UnsupportedRootError) as e:
        runlake.init(project="p")
    _refused(e, f"${name}")
    with pytest.raises(UnsupportedRootError) as e:
        runlake.Api()
    _refused(e, f"${name}")
    _nothing_written(tmp_path)


def test_a_local_argument_still_wins_over_a_uri_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNLAKE_DIR", URI)
    with runlake.init(project="p", settings={"root": tmp_path / "local"}) as run:
        run.log({"x": 1})
    assert runlake.Api(root=tmp_path / "local").run(f"p/{run.id}").summary["x"] == 1


def test_api_root_uri_is_refused(tmp_path):
    for root in (URI, Path(URI)):
        with pytest.raises(UnsupportedRootError, match="object-storage roots"):
            runlake.Api(root=root)
    with pytest.raises(UnsupportedRootError) as e:
        runlake.query.sql("SELECT 1", root=URI)
    _refused(e, "the store root")
    _nothing_written(tmp_path)


@pytest.mark.parametrize("args", [
    ["demo", "--runs", "1", "--steps", "1"], ["runs"], ["history", "p/abc"],
    ["sql", "SELECT 1"], ["export", "p", "out.parquet"], ["recover"], ["gc"],
])
def test_cli_dir_uri_is_one_error_line(capsys, tmp_path, args):
    assert main([*args, "--dir", URI]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("runlake: error: "), err
    assert repr(URI) in err and "not supported yet" in err and "local folder path" in err
    _nothing_written(tmp_path)
    assert not (tmp_path / "out.parquet").exists()


def test_the_default_store_is_runlake_store(tmp_path):
    with runlake.init(project="p") as run:
        run.log({"x": 1})
    assert (tmp_path / "runlake-store" / "runs" / "entity=local" / "project=p").is_dir()
    assert not (tmp_path / "runlake").exists()
    assert runlake.Api().run(f"p/{run.id}").summary["x"] == 1


def test_a_default_store_does_not_shadow_the_package(tmp_path):
    """The reason for the name: a ./runlake folder would be imported instead of an editable
    install; ./runlake-store is not an importable name at all."""
    with runlake.init(project="p") as run:
        run.log({"x": 1})
    proc = subprocess.run(
        [sys.executable, "-c", "import runlake; print(runlake.init.__module__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "runlake.tracking.session"

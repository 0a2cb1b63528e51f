"""run.log_code and init(save_code=True): code artifacts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import runlake
from runlake.errors import InvalidNameError, InvalidValueError


def _file(path: Path | str, text: str = "pass\n") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def entry(tmp_path, monkeypatch) -> Path:
    """Pretend the process runs tmp_path/train.py (under pytest it runs pytest)."""
    script = _file(tmp_path / "train.py", "print('training')\n")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(script), raising=False)
    monkeypatch.setattr(sys, "argv", [str(script)])
    return script


def _tree() -> None:
    for name in ("a.py", "sub/b.py", "requirements.txt", "Dockerfile", "README.md", "data.csv",
                 "wandb/run-1/files/x.py", ".wandb/y.py", "cache/c.py", "nb.ipynb"):
        _file(name)


def test_default_name_include_and_exclude(root, entry):
    _tree()
    with runlake.init(settings={"root": root}, project="mnist") as run:
        run.save("a.py", policy="now")  # a .py inside the store (root is ./store) is never code
        art = run.log_code()
    assert art.name == "source-mnist-train.py:v0" and art.type == "code"
    assert art.files() == ["Dockerfile", "a.py", "cache/c.py", "requirements.txt", "sub/b.py",
                           "train.py"]
    read = runlake.Api(root).artifact("mnist/source-mnist-train.py:latest")
    assert read.files() == art.files()
    assert [a.name for a in runlake.Api(root).run(f"mnist/{run.id}").logged_artifacts()] == [
        "source-mnist-train.py:v0"]


def test_reference_advanced_example_one_and_two_argument_callables(root, entry, monkeypatch):
    _tree()
    monkeypatch.chdir("sub")
    with runlake.init(settings={"root": root}, project="p") as run:
        art = run.log_code(
            "../",
            include_fn=lambda path: path.endswith(".py") or path.endswith(".ipynb"),
            exclude_fn=lambda path, root: os.path.relpath(path, root).startswith("cache/"),
        )
    # The exclude_fn given replaces the default: wandb/ and .wandb/ are not excluded now.
    assert art.files() == [".wandb/y.py", "a.py", "nb.ipynb", "sub/b.py", "train.py",
                           "wandb/run-1/files/x.py"]


def test_callables_get_absolute_paths_and_the_root(root, tmp_path, entry):
    _file("a.py")
    seen = []

    def include(path, root):
        seen.append((path, root))
        return True

    with runlake.init(settings={"root": root}) as run:
        run.log_code(".", name="mine", include_fn=include, exclude_fn=lambda p: False)
    assert (str(tmp_path / "a.py"), str(tmp_path)) in seen


def test_nothing_matched_is_none(root, entry):
    _file("README.md")
    with runlake.init(settings={"root": root}) as run:
        with pytest.warns(UserWarning, match="no file"):
            assert run.log_code(include_fn=lambda p: p.endswith(".rs")) is None
        with pytest.warns(UserWarning):
            assert run.log_code(root=None) is None
    assert runlake.Api(root).run(f"{run.project}/{run.id}").logged_artifacts() == []


def test_same_code_twice_is_one_version_and_a_change_is_the_next(root, entry):
    _file("a.py", "x = 1\n")
    with runlake.init(settings={"root": root}) as run:
        assert run.log_code().version == "v0"
        assert run.log_code().version == "v0"
        _file("a.py", "x = 2\n")
        assert run.log_code().version == "v1"


def test_name_from_an_odd_entry_point_is_sanitised(root, tmp_path, monkeypatch):
    script = _file(tmp_path / "scripts" / "my train (v2)..py")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(script), raising=False)
    _file("a.py")
    with runlake.init(settings={"root": root}, project="p") as run:
        art = run.log_code()
    assert art.name == "source-p-scripts_my_train__v2__.py:v0"


def test_bad_arguments(root, entry):
    _file("a.py")
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(TypeError, match="include_fn.*str"):
            run.log_code(include_fn="*.py")
        with pytest.raises(ValueError, match="exclude_fn.*neither"):
            run.log_code(exclude_fn=lambda: True)
        with pytest.raises(InvalidNameError):
            run.log_code(name="../escape")
        with pytest.raises(InvalidValueError, match="not a folder"):
            run.log_code(root="no/such/dir")


# -- init(save_code=True) ---------------------------------------------------------------------


def _code_artifacts(root: Path, run) -> list:
    return [a for a in runlake.Api(root).run(f"{run.project}/{run.id}").logged_artifacts()
            if a.type == "code"]


def test_save_code_logs_the_entry_script(root, tmp_path, entry):
    _file("other.py")
    with runlake.init(settings={"root": root}, project="p", save_code=True) as run:
        pass
    [art] = _code_artifacts(root, run)
    assert art.name == "source-p-train.py:v0" and art.files() == ["train.py"]
    out = Path(art.download(tmp_path / "dl"))
    assert (out / "train.py").read_text() == "print('training')\n"


def test_save_code_is_off_by_default_and_read_from_settings_and_env(root, entry, monkeypatch):
    with runlake.init(settings={"root": root}) as run:
        pass
    assert _code_artifacts(root, run) == []
    with runlake.init(settings=runlake.Settings(root=root, save_code=True)) as run:
        pass
    assert len(_code_artifacts(root, run)) == 1
    monkeypatch.setenv("WANDB_SAVE_CODE", "true")
    # (another project: identical code in one project is one version, whose producer stays
    # the run that logged it first)
    with runlake.init(settings={"root": root}, project="other") as run:
        assert run.settings.save_code is True
    assert len(_code_artifacts(root, run)) == 1
    with runlake.init(settings={"root": root}, save_code=False) as run:  # the argument wins
        pass
    assert _code_artifacts(root, run) == []
    monkeypatch.setenv("RUNLAKE_SAVE_CODE", "perhaps")
    with pytest.raises(ValueError, match="RUNLAKE_SAVE_CODE.*'perhaps'"):
        runlake.init(settings={"root": root})
    with pytest.raises(TypeError, match="save_code.*str"):
        runlake.init(settings={"root": root}, save_code="yes")


def test_a_jupyter_kernel_has_no_entry_script(tmp_path, monkeypatch):
    launcher = _file(tmp_path / "site-packages" / "ipykernel_launcher.py")
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
    monkeypatch.setattr(sys, "argv", [str(launcher), "-f", "kernel.json"])
    from runlake.tracking.code import entry_script

    assert entry_script() is None


def test_save_code_without_an_entry_script_warns(root, monkeypatch):
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
    monkeypatch.setattr(sys, "argv", ["-c"])
    with pytest.warns(UserWarning, match="no entry script"):
        with runlake.init(settings={"root": root}, save_code=True) as run:
            pass
    assert _code_artifacts(root, run) == []

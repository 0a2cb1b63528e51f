"""The wheel installs one import name, runlake (with runlake.engine and runlake.query), and
nothing generic at the top level."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel and imports it in fresh interpreters

REPO = Path(__file__).resolve().parents[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("RUNLAKE_", "WANDB_"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the source tree (the build leaves nothing in the repo)."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the 'build' package (in the test extra) is not installed")
    work = tmp_path_factory.mktemp("pkg")
    src = work / "src"
    shutil.copytree(
        REPO, src,
        ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".hypothesis",
            "runlake", ".venv",
        ),
    )
    out = work / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)],
        capture_output=True, text=True, timeout=600, env=_clean_env(HOME=str(work / "home")),
    )
    if proc.returncode != 0 and "Could not find a version that satisfies" in proc.stdout + proc.stderr:
        pytest.skip("the isolated build could not install setuptools (no package index reachable)")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [whl] = out.glob("runlake-*.whl")
    return whl


@pytest.fixture(scope="module")
def names(wheel) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def test_wheel_holds_the_runlake_package(names):
    for required in (
        "runlake/__init__.py", "runlake/py.typed", "runlake/errors.py", "runlake/tracking/session.py",
        "runlake/tracking/run.py", "runlake/media/image.py", "runlake/tables/table.py",
        "runlake/monitor/system.py", "runlake/artifacts/artifact.py", "runlake/cli/commands.py",
        "runlake/engine/__init__.py", "runlake/engine/writer.py", "runlake/engine/layout.py",
        "runlake/query/__init__.py",
    ):
        assert required in names, required
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)


def test_wheel_holds_the_wandb_alias_folder(names):
    """A non-editable install has the alias (package data), under runlake/ only."""
    shim = "runlake/compat/wandb-shim/"
    for required in ("wandb/__init__.py", "wandb/sdk/lib/config_util.py", "wandb/errors/term.py",
                     "wandb/apis/public/__init__.py", "wandb-0.19.11.dist-info/METADATA"):
        assert shim + required in names, required
    assert not [n for n in names if n.startswith("wandb")]


def test_wheel_has_no_generic_top_level_packages(names):
    tops = {n.split("/", 1)[0] for n in names}
    assert {"engine", "sdk", "query", "tests", "benchmarks", "docs"}.isdisjoint(tops), tops
    assert {t for t in tops if not t.endswith((".dist-info", ".data"))} == {"runlake"}


def test_wheel_declares_the_console_script_and_dependencies(wheel):
    with zipfile.ZipFile(wheel) as z:
        info = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        assert "runlake = runlake.cli:main" in z.read(info).decode()
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    for dep in ("pyarrow", "polars", "duckdb", "numpy"):
        assert f"Requires-Dist: {dep}" in meta, dep


def test_the_unpacked_wheel_imports_only_as_runlake(wheel, tmp_path):
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    code = (
        "import importlib, sys\n"
        "import runlake, runlake.engine, runlake.query\n"
        f"assert runlake.__file__.startswith({str(target)!r}), runlake.__file__\n"
        f"assert runlake.engine.__file__.startswith({str(target)!r})\n"
        "for name in ('engine', 'sdk', 'query'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "    else:\n"
        "        sys.exit(f'{name} is importable')\n"
        "with runlake.init(mode='disabled') as run:\n"
        "    run.log({'a': 1})\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=_clean_env(PYTHONPATH=str(target)),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.parametrize("name", ["engine", "sdk", "query"])
def test_generic_names_are_not_importable_in_the_dev_install(tmp_path, name):
    proc = subprocess.run(
        [sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env=_clean_env(),
    )
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in proc.stderr


def test_runlake_subpackages_import_in_the_dev_install(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "import runlake.engine, runlake.query; print(runlake.__version__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_clean_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0.1.0"


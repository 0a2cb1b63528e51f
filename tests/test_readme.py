"""README.md's "Set up" commands, in order, in one fresh folder with a fresh venv.

The commands are read out of the README, so this test follows it. To stay fast and offline,
the fresh venv sees this environment's installed packages through a .pth file (pip finds the
requirements satisfied and installs runlake alone, from the copy, with no index and no build
isolation), and the inner pytest runs a small subset chosen by PYTEST_ADDOPTS.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUARD = "RUNLAKE_README_TEST"  # set in the inner run, so that it never runs this test again
INNER_TESTS = "-x -m 'not slow' -p no:cacheprovider tests/test_layers.py tests/tracking/test_session.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get(GUARD)), reason="inside the README test's own run"),
]


def setup_commands(readme: str) -> list[str]:
    """The shell commands of the README's "Set up" section, in order."""
    section = re.search(r"^## Set up\n(.*?)(?=^## )", readme, re.S | re.M)
    assert section, "README.md has no '## Set up' section"
    blocks = re.findall(r"^```(?:sh|bash|console)\n(.*?)^```", section.group(1), re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_setup_commands_are_read_from_the_readme():
    text = "## Set up\n\n```sh\npip install x\n```\nthen\n```sh\nmake\n```\n## Next\n```sh\nno\n```\n"
    assert setup_commands(text) == ["pip install x", "make"]


def _copy_tracked_files(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():  # a tracked file deleted in the working tree is not copied
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _shared_packages(dest: Path) -> Path:
    """This interpreter's site-packages as links, less runlake itself: pip would see the
    worktree's editable runlake as installed and try to uninstall it."""
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir()
    for entry in site.iterdir():
        if not re.match(r"(__editable__[._])?runlake\b", entry.name, re.I):
            (dest / entry.name).symlink_to(entry)
    return dest


def _fresh_venv(folder: Path, shared: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(folder)  # pip from ensurepip: no download
    purelib = subprocess.run(
        [folder / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    Path(purelib, "_shared_packages.pth").write_text(f"{shared}\n")
    # Python < 3.12's ensurepip also installs an old setuptools, which would shadow the shared
    # one; without build isolation the build then gets what build-system.requires asks for.
    subprocess.run([folder / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "setuptools"],
                   capture_output=True, check=True)
    return folder / "bin"


def test_readme_setup_commands_work_in_a_fresh_folder(tmp_path):
    commands = setup_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(commands) == 2 and commands[0].startswith("pip install ."), commands
    work = tmp_path / "checkout"
    _copy_tracked_files(work)
    bin_dir = _fresh_venv(tmp_path / "venv", _shared_packages(tmp_path / "shared"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RUNLAKE_", "WANDB_", "PYTHON", "PIP_", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(bin_dir.parent),
        HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip's spelling of --no-build-isolation in the environment
        PYTEST_ADDOPTS=INNER_TESTS, **{GUARD: "1"},
    )
    (tmp_path / "tmp").mkdir()
    results = []
    for command in commands:
        proc = subprocess.run(["sh", "-c", command], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)
        results.append(proc)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    demo, tests = results
    store = work / "runlake-store"
    assert f"store: {store}" in demo.stdout, demo.stdout
    assert list((store / "history" / "entity=local" / "project=demo").glob("run_id=*/*.parquet"))
    assert not (work / "runlake").exists()
    assert demo.stdout.count("logged local/demo/") == 4, demo.stdout
    assert (bin_dir / "runlake").is_file()  # the console script came from the fresh venv
    installed = subprocess.run(
        [bin_dir / "python", "-c", "import runlake; print(runlake.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert Path(installed).is_relative_to(work), installed  # the editable install of the copy
    summary = tests.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 20, tests.stdout[-2000:]
    assert not re.search(r"\b(failed|errors?)\b", summary), summary

"""Every notebook under notebooks/ runs top to bottom in a fresh kernel without an error.

The kernel is this interpreter (a kernel spec written for `sys.executable`, found first through
JUPYTER_PATH), so it sees exactly the packages the tests see. It runs in a temporary working
directory, with HOME, RUNLAKE_DIR, TMPDIR, MPLCONFIGDIR, IPYTHONDIR, the XDG and the Jupyter
directories all pointed into the test's tmp_path: nothing is read from or written to the
user's home.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # notebooks run in a real kernel

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL = "python3"

# The first cell run: where the kernel runs, to check it is this environment.
_PROBE = (
    "import json as _j, os as _o, sys as _s\n"
    "print(_j.dumps({'executable': _s.executable, 'prefix': _s.prefix, 'cwd': _o.getcwd()}))"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {REPO / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path: Path):
    """Valid nbformat 4, with no outputs or execution counts stored."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the 'test' extra")
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.execution_count is None, f"cell {i} of {path.name} has an execution count"
            assert cell.outputs == [], f"cell {i} of {path.name} has stored outputs"


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Env vars for the kernel, all pointing into tmp_path, and a kernel spec for this Python."""
    dirs = {name: tmp_path / name for name in (
        "work", "home", "tmp", "mpl", "ipython", "jupyter-path", "jupyter-config",
        "jupyter-data", "jupyter-runtime", "xdg-config", "xdg-cache", "xdg-data",
    )}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    dirs["store"] = tmp_path / "default-store"  # RUNLAKE_DIR: the notebooks must not use it
    for name, value in {
        "HOME": dirs["home"],
        "RUNLAKE_DIR": dirs["store"],
        "TMPDIR": dirs["tmp"],
        "MPLCONFIGDIR": dirs["mpl"],
        "IPYTHONDIR": dirs["ipython"],
        "JUPYTER_PATH": dirs["jupyter-path"],
        "JUPYTER_CONFIG_DIR": dirs["jupyter-config"],
        "JUPYTER_DATA_DIR": dirs["jupyter-data"],
        "JUPYTER_RUNTIME_DIR": dirs["jupyter-runtime"],
        "XDG_CONFIG_HOME": dirs["xdg-config"],
        "XDG_CACHE_HOME": dirs["xdg-cache"],
        "XDG_DATA_HOME": dirs["xdg-data"],
    }.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # and no warning about the old defaults
    for name in ("MPLBACKEND", "JUPYTER_CONFIG_PATH", "PYDEVD_DISABLE_FILE_VALIDATION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(dirs["work"])

    # JUPYTER_PATH comes first in the kernel spec search: this spec wins over any other
    # "python3" (the venv's own, a system-wide one), and it names this interpreter.
    spec = dirs["jupyter-path"] / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({sys.prefix})",
        "language": "python",
        "metadata": {"debugger": False},
    }))
    return dirs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_env: dict[str, Path]):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the 'test' extra")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the 'test' extra")
    pytest.importorskip("ipykernel", reason="ipykernel is in the 'test' extra")
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_PROBE, id="runlake-test-probe"))
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=300, startup_timeout=120,
        resources={"metadata": {"path": str(kernel_env["work"])}},
    )
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = _ANSI.sub("", str(exc))
    if error is not None:  # outside the except block: no chained, colored traceback
        failed = next((i for i, cell in enumerate(nb.cells) if any(
            out.get("output_type") == "error" for out in cell.get("outputs", []))), None)
        where = ("the kernel check" if failed == 0 else "a cell" if failed is None
                 else f"cell {failed - 1} (0-based, markdown cells counted)")
        pytest.fail(f"{path.name}: {where} failed:\n{error}", pytrace=False)

    probe = json.loads("".join(o.get("text", "") for o in nb.cells[0].outputs
                               if o.get("output_type") == "stream"))
    assert (probe["executable"], probe["prefix"]) == (sys.executable, sys.prefix), \
        f"the kernel is not this interpreter: {probe}"
    assert Path(probe["cwd"]).resolve() == kernel_env["work"].resolve(), probe
    # The notebook kept to its own temporary store.
    assert not kernel_env["store"].exists(), "the notebook wrote to $RUNLAKE_DIR"
    assert not (kernel_env["work"] / "runlake-store").exists(), "the notebook wrote ./runlake-store"
    assert not (kernel_env["home"] / "runlake-store").exists(), "the notebook wrote ~/runlake-store"

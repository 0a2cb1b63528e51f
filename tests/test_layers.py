"""The dependency direction: sdk -> query -> engine, never back; and a light `import runlake`.

engine/ is runlake.engine and must not import the SDK (the package `runlake` itself) or
runlake.query; query/ may import runlake.engine but not the SDK. Checked on the source with
ast, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imports(path: Path) -> list[tuple[int, int, str, list[str]]]:
    """(line, relative level, module, imported names) of every import in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append((node.lineno, 0, alias.name, []))
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, node.level, node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.append((node.lineno, 0, arg.value, []))
    return out


def sources(folder: str) -> list[Path]:
    files = sorted((REPO / folder).glob("*.py"))
    assert files, folder
    return files


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def engine_violations(path: Path) -> list[str]:
    bad = []
    for line, level, module, names in imports(path):
        where = f"{path.relative_to(REPO)}:{line}"
        if level >= 2:  # `from .. import x` reaches the runlake package, i.e. the SDK
            bad.append(f"{where}: relative import above the engine ({'.' * level}{module})")
        elif level == 0 and _top(module) in ("runlake", "sdk", "query"):
            # even `runlake.engine.x` runs runlake/__init__ (the SDK) first: use `from .x`
            bad.append(f"{where}: imports {module}")
    return bad


def query_violations(path: Path) -> list[str]:
    bad = []
    for line, level, module, names in imports(path):
        where = f"{path.relative_to(REPO)}:{line}"
        if level == 0 and _top(module) in ("sdk", "engine", "query"):
            bad.append(f"{where}: imports the source folder {module} (use runlake.engine)")
        elif level == 0 and _top(module) == "runlake":
            if module == "runlake":
                if any(n != "engine" for n in names) or not names:
                    bad.append(f"{where}: imports the SDK (runlake {names or ''})")
            elif not (module == "runlake.engine" or module.startswith("runlake.engine.")):
                if not module.startswith("runlake.query"):
                    bad.append(f"{where}: imports the SDK module {module}")
        elif level >= 2:
            if not (module == "engine" or module.startswith("engine.")) and not (
                module == "" and names and all(n == "engine" for n in names)
            ):
                bad.append(f"{where}: relative import of the SDK ({'.' * level}{module})")
    return bad


@pytest.mark.parametrize("path", sources("engine"), ids=lambda p: p.name)
def test_engine_does_not_import_the_sdk_or_query(path):
    assert engine_violations(path) == []


@pytest.mark.parametrize("path", sources("query"), ids=lambda p: p.name)
def test_query_imports_only_the_engine(path):
    assert query_violations(path) == []


def test_the_checks_catch_violations(tmp_path, monkeypatch):
    """The checkers themselves: each forbidden form is reported, allowed forms are not."""
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    engine_bad = [
        "import runlake", "import runlake.query", "from runlake import Run",
        "from runlake.engine import layout", "from .. import session", "from ..query import sql",
        "import sdk.session", "def f():\n    from runlake.live_run import Run",
        "import importlib\nimportlib.import_module('runlake.query')",
    ]
    for i, src in enumerate(engine_bad):
        f = tmp_path / f"e{i}.py"
        f.write_text(src + "\n")
        assert engine_violations(f), src
    engine_ok = ["from . import kinds", "from .layout import STEP", "import pyarrow as pa"]
    for i, src in enumerate(engine_ok):
        f = tmp_path / f"eok{i}.py"
        f.write_text(src + "\n")
        assert engine_violations(f) == [], src
    query_bad = [
        "import runlake", "from runlake import init", "from runlake.session import init",
        "import runlake.live_run", "from .. import session", "from ..run_summary import Summary",
        "import sdk", "import engine.layout",
    ]
    for i, src in enumerate(query_bad):
        f = tmp_path / f"q{i}.py"
        f.write_text(src + "\n")
        assert query_violations(f), src
    query_ok = [
        "from runlake.engine import catalog", "import runlake.engine.layout",
        "from runlake import engine", "from ..engine import layout", "from . import api",
        "import duckdb",
    ]
    for i, src in enumerate(query_ok):
        f = tmp_path / f"qok{i}.py"
        f.write_text(src + "\n")
        assert query_violations(f) == [], src


HEAVY = ("torch", "PIL", "matplotlib", "imageio", "plotly", "pandas")

_PROBE = """
import sys
tried = []
class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {heavy!r}:
            tried.append(name)
        return None
sys.meta_path.insert(0, Recorder())
{body}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("tried:", sorted(set(tried)))
print("loaded:", loaded)
"""


def _probe(body: str, tmp_path: Path, heavy=HEAVY) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["RUNLAKE_DIR"] = str(tmp_path / "store")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=heavy, body=body)], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_runlake_is_light(tmp_path):
    out = _probe("import runlake\nimport runlake.query", tmp_path)
    assert "tried: []" in out and "loaded: []" in out, out


def test_a_run_does_not_load_media_libraries(tmp_path):
    """Logging scalars must not pull in torch, PIL, matplotlib or imageio (pandas may come in
    through pyarrow's conversion of Python lists, which this project does not control)."""
    body = (
        "import runlake\n"
        "with runlake.init() as run:\n"
        "    for i in range(100):\n"
        "        run.log({'x': i / 3, 's': str(i), 'l': [1, 2], 'n': {'a': i}})\n"
        "with runlake.init(mode='disabled') as run:\n"
        "    run.log({'x': 1})\n"
    )
    out = _probe(body, tmp_path, heavy=("torch", "PIL", "matplotlib", "imageio", "plotly"))
    assert "tried: []" in out and "loaded: []" in out, out


def test_histograms_and_media_classes_do_not_load_media_libraries(tmp_path):
    """Media types import their library only when a value needs it: a histogram (numpy only)
    and an automatic one from a long array load none, nor does pandas come in."""
    body = (
        "import numpy as np, runlake\n"
        "with runlake.init() as run:\n"
        "    run.log({'h': runlake.Histogram(np.arange(100)), 'auto': np.arange(100.0)})\n"
        "    run.log({'h': runlake.Histogram([1, 2, 3]), 'auto': list(range(50))})\n"
        "print(runlake.Image, runlake.Video, runlake.Audio, runlake.Object3D, runlake.Html, runlake.Plotly)\n"
    )
    out = _probe(body, tmp_path)
    assert "tried: []" in out and "loaded: []" in out, out

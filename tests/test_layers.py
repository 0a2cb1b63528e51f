"""The dependency rules of the tree, checked on the source with ast, and what loads at run time.

The rooms, and what each may import of runlake (besides itself):
- `runlake.errors` (sdk/errors.py): nothing; it is the leaf every part raises from.
- `runlake.engine` (engine/): `runlake.errors` only. It knows nothing of the Run API.
- `runlake.artifacts`: the engine. Both sides share it, so the SDK needs no read side to build one.
- `runlake.media`, `runlake.tables`: the engine and each other; `runlake.monitor`: the engine.
- `runlake.query` (query/): the engine and `runlake.artifacts`, never the write side.
- `runlake.tracking`: all of the above, but the read side only inside a function that reads
  (the notebook card, `restore` of another run's file), so `init()` never loads it.
- `runlake.compat` (the wandb alias): everything but the CLI (only its shim folder's
  `wandb.apis` loads the read side, when imported).
- `runlake.cli`: anything; the root `runlake/__init__.py`: `runlake.errors`, the rest lazily.
An import inside a function counts the same as one at the top, except where said.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# room -> the rooms it may import at module level and inside functions
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "errors": (set(), set()),
    "engine": ({"errors"}, set()),
    "artifacts": ({"errors", "engine"}, set()),
    "media": ({"errors", "engine", "tables"}, set()),
    "tables": ({"errors", "engine", "media"}, set()),
    "monitor": ({"errors", "engine"}, set()),
    "query": ({"errors", "engine", "artifacts"}, set()),
    "tracking": ({"errors", "engine", "artifacts", "media", "tables", "monitor"}, {"query"}),
    "compat": ({"errors", "engine", "artifacts", "media", "tables", "monitor", "query", "tracking", "root"}, set()),
    "cli": ({"errors", "engine", "artifacts", "media", "tables", "monitor", "query", "tracking", "compat", "root"}, set()),
    "root": ({"errors"}, {"errors", "engine", "artifacts", "media", "tables", "monitor", "query", "tracking", "compat"}),
}
SUBPACKAGES = ("tracking", "media", "tables", "monitor", "artifacts", "cli", "compat")


def room_of_file(path: Path) -> str:
    rel = path.relative_to(REPO).parts
    if rel[0] in ("engine", "query"):
        return rel[0]
    if len(rel) == 2:  # sdk/<file>.py
        return {"errors.py": "errors", "__main__.py": "cli"}.get(rel[1], "root")
    return rel[1]


def room_of_module(module: str) -> str | None:
    """The room of an absolute module name inside runlake; None outside it."""
    parts = module.split(".")
    if parts[0] != "runlake":
        return None
    if len(parts) == 1 or parts[1] in ("__main__",):
        return "root"
    return parts[1] if parts[1] in (*SUBPACKAGES, "engine", "query", "errors") else "root"


def imports(path: Path) -> list[tuple[int, bool, str]]:
    """(line, inside a function, absolute module) of every runlake import in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    room = room_of_file(path)
    package = {"engine": "runlake.engine", "query": "runlake.query", "root": "runlake",
               "errors": "runlake"}.get(room, f"runlake.{room}")
    out: list[tuple[int, bool, str]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((child.lineno, local, a.name) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                names = [f"{module}.{a.name}" for a in child.names] if module == "runlake" else [module]
                # `from pkg import sub` imports the submodule pkg.sub when there is one
                names += [f"{module}.{a.name}" for a in child.names if module != "runlake" and module.startswith("runlake")]
                out.extend((child.lineno, local, m) for m in names)
            elif isinstance(child, ast.Call):
                func = child.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("import_module", "__import__") and child.args:
                    arg = child.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        out.append((child.lineno, local, arg.value))
            visit(child, inner)

    visit(tree, False)
    return [(line, local, m) for line, local, m in out if m.split(".")[0] in ("runlake", "sdk", "engine", "query")]


def violations(path: Path) -> list[str]:
    room = room_of_file(path)
    top, inner = ALLOWED[room]
    bad = []
    for line, local, module in imports(path):
        where = f"{path.relative_to(REPO)}:{line}"
        if module.split(".")[0] != "runlake":
            bad.append(f"{where}: imports the source folder {module} (use the runlake name)")
            continue
        target = room_of_module(module)
        if target == room or target in top or (local and target in inner):
            continue
        bad.append(f"{where}: {room} imports {module} ({target}){' in a function' if local else ''}")
    return bad


def all_sources() -> list[Path]:
    files = [*sorted((REPO / "sdk").rglob("*.py")), *sorted((REPO / "engine").glob("*.py")),
             *sorted((REPO / "query").glob("*.py"))]
    assert len(files) > 50
    return files


@pytest.mark.parametrize("path", all_sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_each_module_imports_only_what_its_room_may(path):
    assert violations(path) == []


def test_no_import_cycle_at_module_level():
    """Module-level imports between runlake's modules form no cycle."""
    graph: dict[str, set[str]] = {}
    names: dict[Path, str] = {}
    for path in all_sources():
        rel = path.relative_to(REPO).with_suffix("").parts
        first = {"sdk": "runlake", "engine": "runlake.engine", "query": "runlake.query"}[rel[0]]
        parts = [p for p in rel[1:] if p != "__init__"]
        names[path] = ".".join([first, *parts])
    known = set(names.values())
    for path, name in names.items():
        deps = set()
        for _, local, module in imports(path):
            if local:
                continue
            while module and module not in known:
                module = module.rpartition(".")[0]
            # a package is initialised before its submodules run: an edge to an ancestor is none
            if module and module != name and not name.startswith(module + "."):
                deps.add(module)
        graph[name] = deps
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            # a package's __init__ runs before its submodules: importing runlake.x.y imports
            # runlake.x first, which is an edge only if runlake.x imports back
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                walk(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)


def test_the_checks_catch_violations(tmp_path, monkeypatch):
    """The checker itself: each forbidden form is reported, allowed forms are not."""
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    for folder in ("engine", "query", "sdk/tracking", "sdk/media"):
        (tmp_path / folder).mkdir(parents=True)
    cases = {
        "engine": (
            ["import runlake", "import runlake.query", "from runlake import Run",
             "from .. import session", "from ..query import sql", "import sdk.session",
             "def f():\n    from runlake.tracking.run import Run",
             "import importlib\nimportlib.import_module('runlake.query')"],
            ["from . import kinds", "from .layout import STEP", "import pyarrow as pa",
             "from runlake.errors import UsageError", "from runlake.engine import layout"],
        ),
        "query": (
            ["import runlake", "from runlake import init", "from runlake.tracking.session import init",
             "import runlake.tracking.run", "from .. import tracking", "import sdk", "import engine.layout",
             "from runlake.media.image import Image"],
            ["from runlake.engine import layout", "import runlake.engine.layout", "from runlake import engine",
             "from . import api", "import duckdb", "from runlake.artifacts.base import ArtifactBase"],
        ),
        "sdk/tracking": (
            ["import runlake.query", "from runlake.query.history import read_table", "from runlake.cli import main"],
            ["def f():\n    from runlake.query.history import read_table", "from runlake.media.image import Image",
             "from . import values", "from runlake.engine.layout import RunPaths"],
        ),
        "sdk/media": (
            ["from runlake.tracking.run import Run", "def f():\n    import runlake.query"],
            ["from runlake.media.base import Media", "from runlake.tables.table import Table"],
        ),
    }
    for folder, (bad, ok) in cases.items():
        for i, src in enumerate(bad):
            f = tmp_path / folder / f"bad{i}.py"
            f.write_text(src + "\n")
            assert violations(f), (folder, src)
        for i, src in enumerate(ok):
            f = tmp_path / folder / f"ok{i}.py"
            f.write_text(src + "\n")
            assert violations(f) == [], (folder, src)


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


@pytest.mark.slow
def test_import_runlake_is_light(tmp_path):
    out = _probe("import runlake\nimport runlake.query", tmp_path)
    assert "tried: []" in out and "loaded: []" in out, out


@pytest.mark.slow
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


@pytest.mark.slow
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


# -- which of runlake's modules (and which query libraries) a process loads --------------------

_MODULES = """
import json, sys
{body}
print(json.dumps(sorted(sys.modules)))
"""
READ_SIDE_LIBRARIES = ("duckdb", "polars", "pandas")


def _loaded(body: str, tmp_path: Path) -> list[str]:
    """The names in sys.modules after running `body` in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["RUNLAKE_DIR"] = str(tmp_path / "store")
    proc = subprocess.run(
        [sys.executable, "-c", _MODULES.format(body=body)], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _runlake_modules(loaded: list[str]) -> list[str]:
    return [m for m in loaded if m.split(".")[0] == "runlake"]


def test_import_runlake_loads_only_the_root_and_errors(tmp_path):
    assert _runlake_modules(_loaded("import runlake", tmp_path)) == ["runlake", "runlake.errors"]


def test_a_run_loads_no_read_side(tmp_path):
    """init, log and finish: no DuckDB, polars or pandas, and no runlake.query module."""
    body = (
        "import runlake\n"
        "run = runlake.init(project='p', config={'lr': 0.1})\n"
        "for i in range(200):\n"
        "    run.log({'loss': 1 / (i + 1), 'i': i, 'tag': str(i % 3), 'nested': {'a': i}})\n"
        "run.summary['best'] = 1.0\n"
        "run.finish()\n"
        "assert runlake.run is None\n"
    )
    loaded = _loaded(body, tmp_path)
    assert any(m == "runlake.tracking.run" for m in loaded)  # the probe did run a Run
    assert list((tmp_path / "store" / "history").rglob("*.parquet")), "the run wrote no segment"
    heavy = sorted({m.split(".")[0] for m in loaded} & set(READ_SIDE_LIBRARIES))
    read_side = [m for m in loaded if m == "runlake.query" or m.startswith("runlake.query.")]
    assert heavy == [] and read_side == [], (heavy, read_side)


def test_the_engine_loads_nothing_of_the_sdk_or_the_read_side(tmp_path):
    """runlake.engine and a RunWriter that writes a segment: of runlake, only the root package
    (it runs first), runlake.errors and the engine itself."""
    body = (
        "import time\n"
        "import runlake.engine as engine\n"
        "paths = engine.RunPaths.of('store', 'e', 'p', 'r1')\n"
        "buf = engine.HistoryBuffer()\n"
        "w = engine.RunWriter(paths, buf, time.time(), engine.WriterOptions(flush_interval=0.01))\n"
        "w.start()\n"
        "for i in range(100):\n"
        "    buf.append(('loss', 'tag'), (1 / (i + 1), str(i)), i)\n"
        "assert w.flush()\n"
        "w.close()\n"
        "assert w.status().rows_compacted == 100, w.status()\n"
    )
    loaded = _runlake_modules(_loaded(body, tmp_path))
    assert "runlake.engine.writer" in loaded
    outside = [m for m in loaded if m not in ("runlake", "runlake.errors")
               and not m.startswith("runlake.engine.") and m != "runlake.engine"]
    assert outside == [], outside

"""The Run and its collaborators: they share a RunHandle, never the Run itself, and see the
run as it is now (renamed, regrouped, finished or detached)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import runlake
from tests.helpers import run_json

TRACKING = Path(runlake.__file__).resolve().parent / "tracking"
MAKERS = {"session", "continuation"}  # they create Runs, so they import run.py


def tracking_imports(module: str) -> set[str]:
    """The runlake.tracking modules one of them imports: at the top, under TYPE_CHECKING or
    inside a function alike."""
    tree = ast.parse((TRACKING / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "runlake.tracking":
                found |= {a.name for a in node.names}
            elif node.module.startswith("runlake.tracking."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names
                      if a.name.startswith("runlake.tracking.")}
    return found - {module}


def test_only_the_makers_of_runs_import_the_run():
    modules = {p.stem for p in TRACKING.glob("*.py")} - {"__init__"}
    assert {"alerts", "files", "watch", "artifacts", "models", "code", "card"} <= modules
    importers = {m for m in modules if "run" in tracking_imports(m)}
    assert importers == MAKERS
    assert not tracking_imports("run") & MAKERS
    assert tracking_imports("handle") <= {"settings"}


def test_collaborators_see_the_current_name_and_group(root):
    run = runlake.init(project="p", name="first", group="g1",
                       settings={"root": root, "base_url": "https://dash.example"})
    run.log({"loss": 0.5})
    run.name = "second"
    run.group = "g2"
    card = run.to_html()
    assert "second" in card and "first" not in card
    assert "https://dash.example/" in card
    art = runlake.Artifact("shards", "dataset")
    with art.new_file("a.txt") as f:
        f.write("a")
    run.upsert_artifact(art)  # the distributed id is the group, as it is now
    done = run.finish_artifact(runlake.Artifact("shards", "dataset"), distributed_id="g2")
    assert done.files() == ["a.txt"]
    run.finish()


WRITING_CALLS = {
    "save": lambda run: run.save("x.txt", policy="now"),
    "alert": lambda run: run.alert("t", "x"),
    "log_artifact": lambda run: run.log_artifact(runlake.Artifact("a", "dataset")),
    "use_artifact": lambda run: run.use_artifact("a:latest"),
    "log_code": lambda run: run.log_code("."),
    "log_model": lambda run: run.log_model("x.txt"),
}


@pytest.mark.parametrize("how", ["finish", "detach"])
@pytest.mark.parametrize("call", sorted(WRITING_CALLS))
def test_every_writing_call_refuses_once_the_run_is_not_this_processes(root, tmp_path, how,
                                                                        call):
    (tmp_path / "x.txt").write_text("x")
    run = runlake.init(settings={"root": root}, project="p", id="r1")
    getattr(run, how)()
    expected = r"detached.*resume='must'" if how == "detach" else r"finished.*runlake\.init\(\)"
    with pytest.raises(runlake.UsageError, match=expected):
        WRITING_CALLS[call](run)


def test_finish_and_detach_record_their_own_end(root):
    finished = runlake.init(settings={"root": root}, project="p", id="f")
    finished.finish(exit_code=3)
    detached = runlake.init(settings={"root": root}, project="p", id="d")
    detached.detach()
    f, d = run_json(root, "f", project="p"), run_json(root, "d", project="p")
    assert (f["state"], f["exit_code"]) == ("failed", 3) and f["finished_at"]
    assert (d["state"], d["exit_code"], d["finished_at"]) == ("detached", None, None)
    assert d["heartbeat_at"] >= d["created_at"]

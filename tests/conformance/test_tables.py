"""The suite's own tables stay true: no wandb needed, so these run in the quick loop too."""

from __future__ import annotations

from pathlib import Path

from tests.conformance.compare import compare, normalise
from tests.conformance.differences import DIFFERENCES, Difference, caught_alike, more_parameters
from tests.conformance.harness import Side, scenario_names
from tests.conformance.test_conformance import KNOWN_GAPS

DESIGN = Path(__file__).parents[2] / "docs" / "DESIGN.md"


def test_every_difference_is_a_row_of_design_md() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    table = text[text.index("## Deliberate differences from wandb"):]
    missing = {d.design for d in DIFFERENCES if f"\n| {d.design} |" not in table}
    assert not missing, f"add these rows to DESIGN.md's deliberate differences: {missing}"


def test_differences_and_gaps_name_scenarios_that_exist() -> None:
    names = set(scenario_names())
    assert {d.scenario for d in DIFFERENCES} - {"*"} <= names
    assert set(KNOWN_GAPS) <= names


def _side(tmp: Path, **observed: object) -> Side:
    return Side("x", tmp, dict(observed))


def test_normalisations_ids_paths_times_and_numbers(tmp_path: Path) -> None:
    side = _side(tmp_path)
    ids = ["abc123"]
    assert normalise(f"{tmp_path}/wandb/run-abc123", side, ids) == "<tmp>/wandb/run-<id>"
    assert normalise({"_runtime": 0.3, "x": 1.0}, side, ids) == {"_runtime": "<number>",
                                                                 "x": ("number", 1.0)}
    assert normalise(1, side, ids) == normalise(1.0, side, ids)
    assert normalise(True, side, ids) != normalise(1, side, ids)


def test_an_undocumented_difference_fails_and_a_stale_entry_is_reported(tmp_path: Path) -> None:
    wandb = _side(tmp_path / "w", **{"run.id": "w1", "a": 1, "b": "w1-x", "c": [1, 2]})
    runlake = _side(tmp_path / "r", **{"run.id": "r9", "a": 1, "b": "r9-x", "c": [2, 1]})
    stale = Difference("s", "a", "never differs", "-")
    report = compare("s", wandb, runlake, (stale,))
    assert [r.key for r in report.failures] == ["c"]  # ids normalised, list order kept
    assert report.stale == [stale]


def test_caught_alike_needs_every_class_wandb_raises() -> None:
    def err(name: str, builtins: list[str], library: list[str]) -> dict:
        return {"error": name, "builtins": builtins, "library": library}

    wandb = err("Error", ["Exception"], ["Error"])
    assert caught_alike(wandb, err("UsageError", ["RuntimeError", "Exception"],
                                   ["Error", "UsageError"]))
    assert not caught_alike(err("TypeError", ["TypeError", "Exception"], []),
                            err("InvalidNameError", ["ValueError", "Exception"], ["Error"]))
    assert not caught_alike(wandb, "ok")


def test_more_parameters_keeps_wandbs_kinds_and_defaults() -> None:
    wandb = {"data": ["POSITIONAL_OR_KEYWORD", "$required"], "step": ["KEYWORD_ONLY", None]}
    assert more_parameters(wandb, {**wandb, "sync": ["POSITIONAL_OR_KEYWORD", None]})
    assert not more_parameters(wandb, {"data": wandb["data"], "step": ["KEYWORD_ONLY", 0]})
    assert not more_parameters(wandb, {"data": wandb["data"]})


def test_the_runner_uses_runlakes_wandb_alias(tmp_path: Path, monkeypatch) -> None:
    import runpy
    import sys

    import runlake

    calls = []
    monkeypatch.setattr(runlake, "as_wandb", lambda: calls.append("as_wandb"), raising=False)
    script = tmp_path / "scenario.py"
    seen = tmp_path / "argv.txt"
    script.write_text(f"import sys\nopen({str(seen)!r}, 'w').write(repr(sys.argv))\n")
    runner = Path(__file__).parent / "run_runlake.py"
    monkeypatch.setattr(sys, "argv", [str(runner), str(script)])
    monkeypatch.setattr(sys, "path", list(sys.path))
    runpy.run_path(str(runner), run_name="__main__")
    assert calls == ["as_wandb"]
    assert seen.read_text() == repr([str(script)])  # the scenario sees itself as the program

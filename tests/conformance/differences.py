"""Deliberate differences between runlake and wandb that the conformance suite accepts.

Each entry names a scenario and an observation key (fnmatch patterns) and why runlake differs;
`design` is the first cell of its row in docs/DESIGN.md's "Deliberate differences from wandb"
table, where every one of them is also listed. `accepts`, when given, narrows the entry to
differences of one shape (it gets both normalised values). An entry for one scenario that no
longer differs there fails that scenario, so the table stays true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Difference:
    scenario: str
    field: str
    reason: str
    design: str
    accepts: Callable[[Any, Any], bool] | None = None


def more_builtins(wandb: Any, runlake: Any) -> bool:
    """The same error class, whose runlake twin also derives from more builtins."""
    return (isinstance(wandb, dict) and isinstance(runlake, dict)
            and set(wandb) == set(runlake) == {"error", "builtins"}
            and wandb["error"] == runlake["error"]
            and set(wandb["builtins"]) < set(runlake["builtins"]))


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "*", "*", "runlake's errors also derive from the builtin a Python user already catches "
        "(ConfigError is a ValueError, UsageError a RuntimeError)",
        "errors derive from `Exception` only", accepts=more_builtins),
)

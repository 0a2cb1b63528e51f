"""Compares the two sides' observations of one scenario, after explicit normalisations.

NORMALISATIONS lists every rewrite applied to both sides before comparing; nothing else is
forgiven. A key whose values still differ is either in differences.DIFFERENCES (a deliberate
difference) or a failure.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from typing import Any

from tests.conformance.differences import Difference
from tests.conformance.harness import Side

NORMALISATIONS = (
    ("run ids", "a string observed under a key whose last part is `id` or ends in `_id` is a "
     "run id; on that side, every occurrence of it inside any string reads as <id>"),
    ("timestamps and runtimes", "a number under a dict key or observation key named "
     "_timestamp, _runtime, runtime or start_time reads as <number>"),
    ("paths", "the side's own temp folder inside a string reads as <tmp>"),
    ("numbers", "ints and floats compare by value at 9 significant digits (wandb's summary "
     "reads 1.0 back as 1); a bool is never equal to a number"),
    ("dict ordering", "dicts compare as mappings; lists keep their order"),
)

_TIME_KEYS = frozenset({"_timestamp", "_runtime", "runtime", "start_time"})


def _last(key: str) -> str:
    return re.split(r"[./]", key)[-1]


def run_ids(observed: dict[str, Any]) -> list[str]:
    ids = {v for k, v in observed.items()
           if isinstance(v, str) and v and (_last(k) == "id" or _last(k).endswith("_id"))}
    return sorted(ids, key=len, reverse=True)


def normalise(value: Any, side: Side, ids: list[str], key: str = "") -> Any:
    """The canonical form of an observed JSON value (see NORMALISATIONS)."""
    if _last(key) in _TIME_KEYS and _is_number(value):
        return "<number>"
    if isinstance(value, bool) or value is None:
        return value
    if _is_number(value):
        return ("number", float(f"{value:.9g}") if math.isfinite(value) else value)
    if isinstance(value, str):
        value = value.replace(str(side.tmp), "<tmp>")
        for run_id in ids:
            value = value.replace(run_id, "<id>")
        return value
    if isinstance(value, list):
        return [normalise(v, side, ids) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v, side, ids, k) for k, v in value.items()}
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Row:
    key: str
    status: str  # "match", "documented", "differs", "missing"
    wandb: Any
    runlake: Any
    reason: str = ""


@dataclass
class Report:
    scenario: str
    rows: list[Row] = field(default_factory=list)
    stale: list[Difference] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.status in ("differs", "missing")]

    def explain(self) -> str:
        lines = [f"scenario {self.scenario}: {len(self.failures)} undocumented differences"]
        for r in self.failures:
            lines.append(f"  {r.key}: {r.status}\n    wandb:   {r.wandb!r}\n"
                         f"    runlake: {r.runlake!r}")
        for d in self.stale:
            lines.append(f"  stale entry in differences.py (no longer differs): "
                         f"{d.scenario} {d.field}")
        return "\n".join(lines)


_ABSENT = "<not observed>"


def compare(scenario: str, wandb: Side, runlake: Side,
            differences: tuple[Difference, ...]) -> Report:
    """Every key wandb observed, against runlake's; keys only runlake observed are ignored
    unless wandb stopped early (then the wandb side is broken, which the caller checks)."""
    mine = [d for d in differences if fnmatch.fnmatchcase(scenario, d.scenario)]
    used: set[Difference] = set()
    report = Report(scenario)
    ids_w, ids_r = run_ids(wandb.observed), run_ids(runlake.observed)
    for key, raw in wandb.observed.items():
        w = normalise(raw, wandb, ids_w, key)
        if key not in runlake.observed:
            r, status = _ABSENT, "missing"
        else:
            r = normalise(runlake.observed[key], runlake, ids_r, key)
            status = "match" if w == r else "differs"
        row = Row(key, status, raw, runlake.observed.get(key, _ABSENT))
        if status != "match":
            hit = next((d for d in mine if fnmatch.fnmatchcase(key, d.field)
                        and (d.accepts is None or d.accepts(w, r))), None)
            if hit is not None:
                used.add(hit)
                row.status, row.reason = "documented", hit.reason
        report.rows.append(row)
    # An entry for every scenario ("*") need not show in each one.
    report.stale = [d for d in mine if d not in used and d.scenario == scenario]
    return report

"""Per-scenario scores, filled by the conformance tests and printed at the end of the run."""

from __future__ import annotations

from tests.conformance.compare import Report

REPORTS: dict[str, Report] = {}


def lines() -> list[str]:
    if not REPORTS:
        return []
    out = [f"{'scenario':<18} {'match':>5} {'documented':>10} {'differs':>7} {'missing':>7}  score"]
    totals = [0, 0, 0, 0]
    for name in sorted(REPORTS):
        r = REPORTS[name]
        counts = [r.count("match"), r.count("documented"), r.count("differs"), r.count("missing")]
        totals = [a + b for a, b in zip(totals, counts)]
        out.append(_line(name, counts))
    out.append(_line("all", totals))
    return out


def _line(name: str, counts: list[int]) -> str:
    total = sum(counts)
    score = f"{(counts[0] + counts[1]) / total:.0%}" if total else "-"
    return f"{name:<18} {counts[0]:>5} {counts[1]:>10} {counts[2]:>7} {counts[3]:>7}  {score}"

"""Each scenario under real wandb and under runlake (through the alias), compared.

A scenario fails when an observation differs outside differences.DIFFERENCES. KNOWN_GAPS are
the scenarios that fail today for want of alias or Run API features being built elsewhere;
each is a strict xfail, so it turns red the moment it passes and must leave the list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import score
from tests.conformance.compare import compare
from tests.conformance.differences import DIFFERENCES
from tests.conformance.harness import run_scenario, scenario_names

KNOWN_GAPS: dict[str, str] = {
}


def _params() -> list:
    out = []
    for name in scenario_names():
        marks = [pytest.mark.slow]
        if name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("scenario", _params())
def test_scenario(scenario: str, wandb_python: Path, tmp_path: Path) -> None:
    wandb, runlake = run_scenario(scenario, wandb_python, tmp_path)
    if wandb.returncode != 0 or wandb.observed.get("done") is not True:
        pytest.fail(f"the scenario itself broke under real wandb: {wandb.describe_exit()}")
    report = compare(scenario, wandb, runlake, DIFFERENCES)
    score.REPORTS[scenario] = report
    message = report.explain()
    if runlake.returncode != 0:
        message += "\n" + runlake.describe_exit()
    assert not report.failures and not report.stale and runlake.returncode == 0, message

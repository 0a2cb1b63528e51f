"""Runs scenarios under both sides and prints the comparison, for working on a scenario:

    python -m tests.conformance.show [SCENARIO ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.conformance import wandb_env
from tests.conformance.compare import compare
from tests.conformance.differences import DIFFERENCES
from tests.conformance.harness import run_scenario, scenario_names


def main(names: list[str]) -> int:
    python = wandb_env.ensure()
    bad = 0
    for name in names or scenario_names():
        with tempfile.TemporaryDirectory() as tmp:
            wandb, runlake = run_scenario(name, python, Path(tmp))
            report = compare(name, wandb, runlake, DIFFERENCES)
        for side in (wandb, runlake):
            if side.returncode != 0:
                print(side.describe_exit())
        for row in report.rows:
            mark = {"match": " ", "documented": "~"}.get(row.status, "X")
            print(f"{mark} {name}:{row.key}")
            if row.status != "match":
                print(f"      wandb:   {row.wandb!r}\n      runlake: {row.runlake!r}")
        for d in report.stale:
            print(f"X stale difference {d.field}")
        bad += bool(report.failures or report.stale)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

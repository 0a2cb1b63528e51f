"""The wandb environment (built once, cached outside the repo) and the score summary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conformance import score, wandb_env

# Read at import: the suite-wide autouse fixture clears RUNLAKE_* variables around each test.
SKIP = os.environ.get("RUNLAKE_SKIP_CONFORMANCE", "") == "1"
CACHE = wandb_env.cache_root()


@pytest.fixture(scope="session")
def wandb_python() -> Path:
    if SKIP:
        pytest.skip("RUNLAKE_SKIP_CONFORMANCE=1: the conformance suite against real wandb is off")
    try:
        return wandb_env.ensure(CACHE)
    except wandb_env.WandbEnvError as e:
        problem = str(e)
    pytest.fail(
        f"the conformance suite needs a virtual environment with wandb=={wandb_env.WANDB_PIN} "
        f"(cached under {CACHE}; set RUNLAKE_CONFORMANCE_CACHE to move it) and could not "
        f"build one: {problem}\nWith no package index reachable, set "
        "RUNLAKE_SKIP_CONFORMANCE=1 to skip this suite on purpose.", pytrace=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    lines = score.lines()
    if lines:
        terminalreporter.section("conformance with wandb " + wandb_env.WANDB_PIN)
        for line in lines:
            terminalreporter.write_line(line)

"""Runs one scenario script as one subprocess per side and collects what it observed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios"
PREFIX = "@@obs "
TIMEOUT_S = 300


@dataclass
class Side:
    """One side's run of a scenario: its observations by key, its exit and stderr."""

    name: str
    tmp: Path
    observed: dict[str, object] = field(default_factory=dict)
    returncode: int = 0
    stderr: str = ""

    def describe_exit(self) -> str:
        return f"{self.name} exited {self.returncode}; stderr ends:\n{self.stderr[-4000:]}"


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.py") if not p.name.startswith("_"))


def environment(tmp: Path) -> dict[str, str]:
    """The same environment for both sides: offline, silent, everything under `tmp`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WANDB_", "RUNLAKE_", "PYTHON"))}
    env.update(
        HOME=str(tmp / "home"),
        WANDB_MODE="offline",
        WANDB_DIR=str(tmp),
        WANDB_SILENT="true",
        WANDB_ERROR_REPORTING="false",  # no crash reports sent anywhere
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
    )
    return env


def run_side(name: str, command: list[str], tmp: Path) -> Side:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "home").mkdir(exist_ok=True)
    side = Side(name, tmp)
    try:
        done = subprocess.run(command, cwd=tmp, env=environment(tmp), capture_output=True,
                              text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        side.returncode = -1
        side.stderr = f"timed out after {TIMEOUT_S} s\n{e.stderr or ''}"
        out = e.stdout or ""
        out = out.decode() if isinstance(out, bytes) else out
    else:
        side.returncode = done.returncode
        side.stderr = done.stderr
        out = done.stdout
    for line in out.splitlines():
        if line.startswith(PREFIX):
            record = json.loads(line[len(PREFIX):])
            side.observed[record["key"]] = record["value"]
    return side


def run_scenario(scenario: str, wandb_python: Path, tmp: Path) -> tuple[Side, Side]:
    """(wandb, runlake): both sides at once, each in a folder of its own."""
    script = str(SCENARIOS / f"{scenario}.py")
    commands = {
        "wandb": [str(wandb_python), script],
        "runlake": [sys.executable, str(HERE / "run_runlake.py"), script],
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {n: pool.submit(run_side, n, c, tmp / n) for n, c in commands.items()}
        return futures["wandb"].result(), futures["runlake"].result()

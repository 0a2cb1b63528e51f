"""Start-up cost: a fresh process that imports the tracker, starts a run and finishes it.

    runlake  python -c "import runlake; runlake.init(project='bench', dir=tmp).finish()"
    wandb    python -c "import wandb; wandb.init(mode='offline', dir=tmp).finish()"

Each is the wall time of the whole subprocess (interpreter start included), in rounds that
alternate the two, order flipped every round; the medians and their ratio are printed, and
`python -c pass` of each interpreter as the floor both pay. wandb runs in the interpreter
given by --wandb-python, or in a venv that --install makes (and reuses) under the system temp
folder with `pip install wandb`; without either, only runlake is measured. Both run with
a clean environment (no RUNLAKE_*/WANDB_* variables) in a new temporary folder each time.

Target: runlake <= 0.5x wandb. Usage:
    python benchmarks/bench_startup.py [--install | --wandb-python PATH] [--rounds N]
A missed target prints MISS; the script exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

TARGET = 0.5
RUNLAKE = "import runlake; runlake.init(project='bench', dir={tmp!r}).finish()"
WANDB = "import wandb; wandb.init(project='bench', mode='offline', dir={tmp!r}).finish()"
CACHE = Path(tempfile.gettempdir()) / "runlake-bench-startup-wandb"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RUNLAKE_", "WANDB_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["WANDB_SILENT"] = "true"  # its banner is not part of what is compared
    return env


def wall(python: str, code: str) -> float:
    """Seconds for `python -c code` (code may name {tmp}), in a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix="runlake-bench-startup-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([python, "-c", code.format(tmp=tmp)], cwd=tmp, env=clean_env(),
                              capture_output=True, text=True, timeout=300)
        elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{python} -c {code!r} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def install_wandb() -> str:
    """A venv with wandb in it, made once under the system temp folder and reused."""
    python = CACHE / "bin" / "python"
    if not python.exists():
        print(f"making a venv for wandb in {CACHE} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(CACHE)
    if subprocess.run([python, "-c", "import wandb"], capture_output=True).returncode != 0:
        print("pip install wandb ...", flush=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "wandb"], check=True)
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--wandb-python", metavar="PATH", help="an interpreter that imports wandb")
    group.add_argument("--install", action="store_true",
                       help=f"make (or reuse) a venv with wandb in {CACHE}")
    parser.add_argument("--rounds", type=int, default=9, help="rounds (default 9)")
    args = parser.parse_args()
    wandb_python = install_wandb() if args.install else args.wandb_python
    if wandb_python and subprocess.run([wandb_python, "-c", "import wandb"],
                                       capture_output=True).returncode != 0:
        raise SystemExit(f"{wandb_python} cannot import wandb (try --install)")

    cases = {"runlake": (sys.executable, RUNLAKE), "python": (sys.executable, "pass")}
    if wandb_python:
        cases["wandb"] = (wandb_python, WANDB)
        cases["python (wandb's)"] = (wandb_python, "pass")
    for python, code in cases.values():  # warm the file cache and any first-run caches
        wall(python, code)
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(wall(*cases[name]))

    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"fresh process: import, init(), finish(); median of {args.rounds} interleaved rounds")
    for name, value in med.items():
        print(f"  {name:<18} {value * 1e3:8.0f} ms")
    if "wandb" not in med:
        print("wandb not measured: pass --install or --wandb-python PATH")
        return
    ratio = med["runlake"] / med["wandb"]
    paired = sorted(a / b for a, b in zip(times["runlake"], times["wandb"]))
    print(f"  runlake / wandb    {ratio:8.2f}x  <= {TARGET}x  {'PASS' if ratio <= TARGET else 'MISS'}")
    print(f"  each round's ratio: {', '.join(f'{p:.2f}' for p in paired)}")
    floor, wfloor = med["python"], med["python (wandb's)"]
    print(f"  less the interpreter's own start: runlake {(med['runlake'] - floor) * 1e3:.0f} ms, "
          f"wandb {(med['wandb'] - wfloor) * 1e3:.0f} ms, "
          f"ratio {(med['runlake'] - floor) / (med['wandb'] - wfloor):.2f}x")


if __name__ == "__main__":
    main()

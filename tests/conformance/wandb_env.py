"""The virtual environment with real wandb that the conformance suite runs scenarios in.

Built once per (wandb pin, Python version, base interpreter) and kept in a folder that outlives
a test run and a checkout: $RUNLAKE_CONFORMANCE_CACHE, else the system temp folder (never the
home, never the repository). CI can build or find it ahead of the tests, and print its
interpreter, with:

    python -m tests.conformance.wandb_env
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The wandb whose behaviour runlake is held to; the Run reference in docs/ is of this line.
WANDB_PIN = "0.31.0"
# What scenarios need besides wandb itself (Image from numpy, Histogram).
EXTRAS = ("numpy", "pillow")
READY = ".ready"


class WandbEnvError(RuntimeError):
    """The wandb environment could not be built (no network, a failed install)."""


def cache_root(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    given = environ.get("RUNLAKE_CONFORMANCE_CACHE")
    if given:
        return Path(given)
    return Path(tempfile.gettempdir()) / "runlake-conformance"


def env_dir(root: Path | None = None) -> Path:
    """Where the environment for this pin and this interpreter lives."""
    base = hashlib.sha256(os.path.realpath(sys.base_prefix).encode()).hexdigest()[:8]
    name = f"wandb-{WANDB_PIN}-py{sys.version_info[0]}.{sys.version_info[1]}-{base}"
    return (cache_root() if root is None else root) / name


def python_of(folder: Path) -> Path:
    return folder / "bin" / "python"


def ensure(root: Path | None = None) -> Path:
    """The interpreter of a ready environment, building it first if needed.

    Builds in a sibling folder and renames it into place, under a lock, so that an interrupted
    or concurrent build never leaves a half-installed environment that looks ready.
    """
    folder = env_dir(root)
    if _ready(folder):
        return python_of(folder)
    try:
        return _ensure_locked(folder)
    except OSError as e:  # an unwritable cache folder, a full disk
        raise WandbEnvError(f"could not build {folder}: {e}") from e


def _ensure_locked(folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _ready(folder):
            return python_of(folder)
        building = folder.parent / f".{folder.name}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        try:
            _build(building)
            shutil.rmtree(folder, ignore_errors=True)  # a stale one without its marker
            building.rename(folder)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    if not _ready(folder):
        raise WandbEnvError(f"{folder} was built but does not import wandb {WANDB_PIN}")
    return python_of(folder)


def _ready(folder: Path) -> bool:
    marker = folder / READY
    return python_of(folder).exists() and marker.is_file() and marker.read_text() == WANDB_PIN


def _build(folder: Path) -> None:
    _run([sys.executable, "-m", "venv", str(folder)], "create the virtual environment")
    python = str(python_of(folder))
    # pip's download cache beside the environments, not in the home.
    env = {**os.environ, "PIP_CACHE_DIR": str(folder.parent / "pip-cache")}
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          f"wandb=={WANDB_PIN}", *EXTRAS], f"pip install wandb=={WANDB_PIN}", env)
    probe = "import wandb, numpy, PIL; print(wandb.__version__)"
    version = _run([python, "-c", probe], "import wandb").strip()
    if version != WANDB_PIN:
        raise WandbEnvError(f"installed wandb reports version {version!r}, not {WANDB_PIN}")
    (folder / READY).write_text(WANDB_PIN)


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                              stdin=subprocess.DEVNULL, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WandbEnvError(f"could not {what}: {e}") from e
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-3000:]
        raise WandbEnvError(f"could not {what} (exit {done.returncode}):\n{tail}")
    return done.stdout


if __name__ == "__main__":
    print(ensure())

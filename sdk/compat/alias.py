"""The `wandb` alias: a folder holding a `wandb` package and a `wandb-<version>.dist-info`,
put first on the import path only when asked for.

`as_wandb()` inserts it at sys.path[0] of this process and prepends it to $PYTHONPATH, so
processes started from here (subprocess, torchrun, spawned DataLoader or DDP workers) get it
too; `runlake run -- CMD` (sdk/cli/run.py) starts CMD with that $PYTHONPATH.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from runlake.errors import UsageError

# The wandb release the alias reports, to `wandb.__version__`, importlib.metadata and pip:
# one that Lightning's `wandb>=0.12.10` check accepts and whose API runlake follows (reinit
# "create_new" came in 0.19.10). The dist-info folder in the shim carries the same number.
WANDB_VERSION = "0.19.11"
# Not an importable name ("-"), so nothing in it can be imported as runlake.compat.<...>.
SHIM_DIR = Path(__file__).resolve().parent / "wandb-shim"


def alias_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `environ` (default os.environ) whose $PYTHONPATH starts with the shim."""
    env = dict(os.environ if environ is None else environ)
    shim = str(SHIM_DIR)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != shim]
    env["PYTHONPATH"] = os.pathsep.join([shim, *parts])
    return env


def as_wandb() -> None:
    """Make `import wandb` (and `wandb.sdk...`, importlib.metadata's "wandb") resolve to
    runlake in this process and the processes it starts. Call it before anything imports
    wandb, e.g. as the first line of a script, before transformers or Lightning.

    Raises UsageError if the real wandb is imported already: the alias never shadows a
    module in use. Calling it again is harmless.
    """
    existing = sys.modules.get("wandb")
    if existing is not None and not getattr(existing, "__runlake__", None):
        where = getattr(existing, "__file__", None) or "an unknown location"
        raise UsageError(
            f"runlake.as_wandb(): the real wandb is already imported in this process (from "
            f"{where}); call runlake.as_wandb() before anything imports wandb (before "
            "transformers, Lightning or accelerate), or leave it out to log with wandb itself"
        )
    shim = str(SHIM_DIR)
    if not (SHIM_DIR / "wandb" / "__init__.py").is_file():
        raise UsageError(f"runlake's wandb alias is missing from {shim}: reinstall runlake")
    if sys.path[:1] != [shim]:
        while shim in sys.path:
            sys.path.remove(shim)
        sys.path.insert(0, shim)
    importlib.invalidate_caches()  # path finders and importlib.metadata look again
    os.environ["PYTHONPATH"] = alias_env()["PYTHONPATH"]

"""Runs a scenario script with `import wandb` resolving to runlake: `python run_runlake.py S.py`.

Uses runlake.as_wandb() (the wandb alias) when runlake has it. Until then it puts the bare
package in sys.modules, so `wandb.errors` and other submodules are missing: a scenario that
needs them is a known gap, not a difference.
"""

from __future__ import annotations

import os
import runpy
import sys

import runlake

alias = getattr(runlake, "as_wandb", None)
if alias is not None:
    alias()
else:  # fallback until the alias lands; remove with it
    sys.modules["wandb"] = runlake

script = os.path.abspath(sys.argv[1])
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(script))  # as `python S.py` would, for _observe
runpy.run_path(script, run_name="__main__")

"""wandb compatibility: the `wandb` alias and the module-level names wandb code calls.

`runlake.as_wandb()` (or `runlake run -- CMD`) puts a `wandb` package that re-exports runlake
on the import path (alias.py), so unmodified code and integrations that `import wandb` log
into runlake. Nothing here is active until asked for: importing runlake.compat changes
nothing, and the shim folder is never on sys.path by itself.
"""

from runlake.compat.alias import SHIM_DIR, WANDB_VERSION, alias_env, as_wandb

__all__ = ["SHIM_DIR", "WANDB_VERSION", "alias_env", "as_wandb"]

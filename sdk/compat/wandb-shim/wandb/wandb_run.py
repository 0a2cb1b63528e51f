"""wandb.wandb_run: the Run class."""

from runlake.tracking.run import Run

__all__ = ["Run"]

"""wandb.sdk.wandb_config: the run config class."""

from runlake.tracking.config import Config

__all__ = ["Config"]

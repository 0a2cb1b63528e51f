"""wandb.sdk.wandb_settings: runlake.Settings."""

from runlake.tracking.settings import Settings

__all__ = ["Settings"]

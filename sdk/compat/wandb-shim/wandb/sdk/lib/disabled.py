"""wandb.sdk.lib.disabled."""

from runlake.compat.disabled import RunDisabled, SummaryDisabled

__all__ = ["RunDisabled", "SummaryDisabled"]

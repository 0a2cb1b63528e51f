"""wandb.sdk.lib: RunDisabled (a runlake run in mode="disabled"), config_util."""

from runlake.compat.disabled import RunDisabled, SummaryDisabled

__all__ = ["RunDisabled", "SummaryDisabled"]

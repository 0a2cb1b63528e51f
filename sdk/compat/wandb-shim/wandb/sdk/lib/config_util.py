"""wandb.sdk.lib.config_util: ConfigError, what a refused config change raises."""

from runlake.errors import ConfigError

__all__ = ["ConfigError"]

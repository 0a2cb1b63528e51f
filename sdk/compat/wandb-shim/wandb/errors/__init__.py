"""wandb.errors: runlake's errors under wandb's names."""

from runlake.compat.errors import AuthenticationError, CommError, Error, UnsupportedError, UsageError
from runlake.errors import ConfigError

__all__ = ["AuthenticationError", "CommError", "ConfigError", "Error", "UnsupportedError",
           "UsageError"]


def __getattr__(name):
    if name == "term":
        import importlib

        return importlib.import_module(f"{__name__}.term")
    raise AttributeError(f"module 'wandb.errors' (runlake's alias) has no attribute {name!r}")

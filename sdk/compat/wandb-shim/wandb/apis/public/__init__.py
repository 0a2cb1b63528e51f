"""wandb.apis.public: runlake.Api."""

from runlake.query import Api

__all__ = ["Api"]

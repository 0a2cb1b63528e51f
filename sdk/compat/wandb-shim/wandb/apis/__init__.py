"""wandb.apis: the read side (runlake.Api) under wandb's names."""

from runlake.query import Api as PublicApi

__all__ = ["PublicApi"]


def __getattr__(name):
    if name == "public":
        import importlib

        return importlib.import_module(f"{__name__}.public")
    raise AttributeError(f"module 'wandb.apis' (runlake's alias) has no attribute {name!r}")

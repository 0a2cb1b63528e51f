"""wandb.sdk: the submodules integrations import (wandb_run, wandb_settings, lib, ...)."""

import importlib as _importlib

_SUBMODULES = ("data_types", "lib", "wandb_config", "wandb_run", "wandb_settings")


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'wandb.sdk' (runlake's alias) has no attribute {name!r}")

"""`wandb`, as runlake: on the import path only after runlake.as_wandb() or under
`runlake run -- CMD`. Every name not defined here is runlake's (`wandb.init` is
`runlake.init`, `wandb.run` the active runlake run); `wandb.__runlake__` is runlake's version.
"""

import importlib as _importlib

import runlake as _runlake
from runlake.compat.alias import WANDB_VERSION as __version__
from runlake.compat.module import agent, controller, login, require, setup, sweep, teardown
from runlake.compat.term import termerror, termlog, termwarn

__runlake__ = _runlake.__version__

_SUBMODULES = ("apis", "data_types", "env", "errors", "plot", "sdk", "util", "wandb_run")
_DYNAMIC = ("run", "config", "summary")  # follow the active run: never cached here


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        value = getattr(_runlake, name)
    except AttributeError:
        raise AttributeError(
            f"module 'wandb' (runlake's alias, wandb {__version__}) has no attribute {name!r}: "
            "runlake does not provide it"
        ) from None
    if name not in _DYNAMIC:
        globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_runlake.__all__) | set(_SUBMODULES))

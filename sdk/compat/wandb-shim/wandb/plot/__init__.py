"""wandb.plot: runlake's charts (runlake.tables.plot)."""

from runlake.tables.plot import *  # noqa: F403
from runlake.tables.plot import __all__  # noqa: F401

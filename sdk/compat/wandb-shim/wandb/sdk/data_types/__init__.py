"""wandb.sdk.data_types: runlake's media and table classes."""

from wandb.data_types import *  # noqa: F403
from wandb.data_types import __all__  # noqa: F401

"""wandb.util: the helpers integrations call."""

from runlake.compat.util import generate_id, get_module, make_artifact_name_safe

__all__ = ["generate_id", "get_module", "make_artifact_name_safe"]

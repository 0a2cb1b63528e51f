"""wandb.errors.term: termlog, termwarn, termerror."""

from runlake.compat.term import termerror, termlog, termwarn

__all__ = ["termerror", "termlog", "termwarn"]

"""What integrations use from `wandb.util`."""

from __future__ import annotations

import importlib
import re
import secrets
import string
from types import ModuleType
from typing import Any

from runlake.errors import MissingExtraError

_ALPHABET = string.ascii_lowercase + string.digits


def generate_id(length: int = 8) -> str:
    """A random run id of lowercase letters and digits, as wandb's."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def get_module(name: str, required: Any = None, lazy: bool = True) -> ModuleType | None:
    """The module `name`, or None if it is not installed; with `required` (a message or
    True), a missing one raises MissingExtraError instead."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if required:
            text = required if isinstance(required, str) else f"this needs {name}: pip install {name}"
            raise MissingExtraError(text) from None
        return None


def make_artifact_name_safe(name: str) -> str:
    """`name` with every character an artifact name may not hold replaced by "_"."""
    cleaned = re.sub(r"[^a-zA-Z0-9_\-.]", "_", name)
    return cleaned[-128:]


__all__ = ["generate_id", "get_module", "make_artifact_name_safe"]

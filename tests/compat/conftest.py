"""The alias changes sys.path, sys.modules and $PYTHONPATH: each test gets them back."""

from __future__ import annotations

import importlib
import sys

import pytest


def _drop_wandb() -> None:
    for name in [m for m in sys.modules if m == "wandb" or m.startswith("wandb.")]:
        del sys.modules[name]


@pytest.fixture
def alias(monkeypatch):
    """runlake.as_wandb() for one test, undone after it."""
    import runlake

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    _drop_wandb()
    runlake.as_wandb()
    yield
    _drop_wandb()
    monkeypatch.undo()
    importlib.invalidate_caches()

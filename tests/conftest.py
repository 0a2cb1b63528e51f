"""Shared fixtures: every test gets its own store root; nothing touches the user's home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import runlake


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in list(os.environ):
        if name.startswith(("RUNLAKE_", "WANDB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    yield
    run = runlake.run
    if run is not None:
        run.finish()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"

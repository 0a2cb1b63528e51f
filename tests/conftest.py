"""Shared fixtures: every test gets its own store root; nothing touches the user's home.

Hypothesis runs under the profile "dev" by default and "ci" when $CI is set (CI runs with
CI=true). Under "ci" every run draws the same examples (derandomize), so a red CI run is
replayed exactly by running the same test again with CI=true; the failure also prints an
`@reproduce_failure(...)` blob to paste above the test. Under "dev" examples are random and
a failing one is saved in .hypothesis/ and tried first on the next run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import runlake

# Loaded here, before any test module is imported: a test's own @settings(...) takes the
# loaded profile as its parent for every option it does not set. Both derive from Hypothesis'
# "default", not from whatever Hypothesis itself loaded on seeing a CI variable.
_default = settings.get_profile("default")
settings.register_profile("dev", _default)
settings.register_profile(
    "ci", _default, derandomize=True, deadline=None, print_blob=True,
    # too_slow is a timing check: on a loaded CI machine it would make a replayable run red.
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "dev")


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

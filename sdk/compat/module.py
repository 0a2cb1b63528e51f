"""wandb's module-level calls that have nothing to do locally, and those runlake lacks.

`login()` returns True and checks nothing: a local store needs no account or key.
`require()` and `setup()` accept what wandb accepts and change nothing (runlake starts no
service process). `teardown()` finishes every live run. Sweeps raise UnsupportedError.
"""

from __future__ import annotations

from typing import Any

from runlake.compat.errors import UnsupportedError


def login(anonymous: str | None = None, key: str | None = None, relogin: bool | None = None,
          host: str | None = None, force: bool | None = None, timeout: int | None = None,
          verify: bool = False, referrer: str | None = None, **_: Any) -> bool:
    """Always True: runlake logs to a local store, which needs no login."""
    return True


def require(requirement: str | list[str] | None = None, experiment: Any = None) -> None:
    """wandb's feature switches ("service", "core", ...): nothing to switch here."""


def setup(settings: Any = None) -> None:
    """wandb starts its service process here; runlake has none."""


def teardown(exit_code: int | None = None) -> None:
    """Finish every run this process has live."""
    from runlake.tracking import session

    for run in reversed(session.live_runs()):
        run.finish(exit_code)


def _no_sweeps(name: str) -> Any:
    def refuse(*_: Any, **__: Any) -> Any:
        raise UnsupportedError(
            f"wandb.{name}(): runlake has no sweeps (no server to schedule runs); run each "
            "configuration as its own runlake run, e.g. from a loop or an Optuna study"
        )

    refuse.__name__ = name
    refuse.__doc__ = f"Raises UnsupportedError: runlake has no sweeps ({name})."
    return refuse


sweep = _no_sweeps("sweep")
agent = _no_sweeps("agent")
controller = _no_sweeps("controller")

"""wandb's error names (`wandb.errors`), each one of runlake's errors or a subclass of
`runlake.Error`, so that code catching either catches what runlake raises."""

from __future__ import annotations

from runlake.errors import Error, UsageError


class CommError(Error, OSError):
    """wandb raises it when talking to its server fails; runlake talks to none, so it is
    raised only where a local store cannot be reached the same way."""

    def __init__(self, msg: str = "", exc: BaseException | None = None) -> None:
        super().__init__(msg)
        self.message = msg
        self.exc = exc


class AuthenticationError(CommError):
    """wandb's failed login; runlake needs none (`login()` returns True)."""


class UnsupportedError(UsageError):
    """A wandb feature runlake does not have (sweeps, a server)."""


__all__ = ["AuthenticationError", "CommError", "Error", "UnsupportedError", "UsageError"]

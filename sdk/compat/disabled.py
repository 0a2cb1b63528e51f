"""wandb's `RunDisabled`: in runlake a disabled run is a `Run` in mode "disabled", so
`isinstance(run, RunDisabled)` is true exactly for those (Lightning checks it)."""

from __future__ import annotations

from typing import Any


class _DisabledCheck(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        from runlake.tracking.run import Run

        return isinstance(obj, Run) and obj.disabled


class RunDisabled(metaclass=_DisabledCheck):
    """Matches runlake runs started with mode="disabled"; not meant to be built."""

    def __init__(self, *_: Any, **__: Any) -> None:
        raise TypeError("RunDisabled is not built: use runlake.init(mode='disabled')")


class SummaryDisabled(dict):  # type: ignore[type-arg]
    """wandb's summary of a disabled run: a plain dict with attribute access."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

"""Attributes of wandb's Run that integrations touch and the Run has no other use for:
`config_static`, `project_url`, `sweep_url`, `sync_dir`, `_label`, `_attach_id`.

A mixin of `Run`, so that run.py keeps to the Run's own logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from runlake.errors import UsageError

if TYPE_CHECKING:
    from runlake.tracking.config import Config


class ConfigStatic:
    """A read-only view of a run's config with attribute access (wandb's `run.config_static`):
    `run.config_static.lr`. It reads the config as it is now, on every access."""

    __slots__ = ("_config",)

    def __init__(self, config: Config) -> None:
        object.__setattr__(self, "_config", config)

    def __getattr__(self, key: str) -> Any:
        items = self._config.as_dict()
        if key in items:
            return items[key]
        raise AttributeError(f"config has no key {key!r}")

    def __getitem__(self, key: str) -> Any:
        return self._config.as_dict()[key]

    def __setattr__(self, key: str, value: Any) -> None:
        raise UsageError(
            f"run.config_static is read-only (setting {key!r}): set run.config[{key!r}] instead"
        )

    __setitem__ = __setattr__

    def __contains__(self, key: object) -> bool:
        return key in self._config.as_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._config.as_dict())

    def __len__(self) -> int:
        return len(self._config.as_dict())

    def keys(self) -> Any:
        return self._config.as_dict().keys()

    def items(self) -> Any:
        return self._config.as_dict().items()

    def __repr__(self) -> str:
        return f"ConfigStatic({self._config.as_dict()!r})"


class WandbRunAttrs:
    """What the Run adds for wandb code (needs `config`, `dir`, `get_project_url`, ...)."""

    config: Config
    _labels: dict[str, str] | None = None

    @property
    def config_static(self) -> ConfigStatic:
        """The config as a read-only object: `run.config_static.lr`."""
        return ConfigStatic(self.config)

    @property
    def project_url(self) -> str | None:
        """`get_project_url()`, as wandb's property."""
        return self.get_project_url()  # type: ignore[attr-defined]

    @property
    def sweep_url(self) -> str | None:
        """`get_sweep_url()`, as wandb's property (None: runlake has no sweeps)."""
        return self.get_sweep_url()  # type: ignore[attr-defined]

    @property
    def sync_dir(self) -> str:
        """The run's folder in the store (wandb's offline-run folder); in mode="disabled"
        the same temporary folder as `run.dir`."""
        paths = getattr(self, "_paths", None)
        return str(paths.run_dir) if paths is not None else self.dir  # type: ignore[attr-defined]

    @property
    def _attach_id(self) -> None:
        """wandb's id for attaching from another process: runlake runs are not attached to."""
        return None

    def _label(self, code: str | None = None, repo: str | None = None,
               code_version: str | None = None, **_: Any) -> None:
        """wandb's telemetry label (transformers calls `run._label(code=...)`): kept in
        memory only, since runlake records no telemetry."""
        labels = dict(self._labels or {})
        labels.update({k: v for k, v in (("code", code), ("repo", repo),
                                         ("code_version", code_version)) if v is not None})
        self._labels = labels

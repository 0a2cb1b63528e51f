"""runlake: a local-first, columnar experiment tracker with the wandb.Run API.

    import runlake as wandb

    with wandb.init(project="mnist", config={"lr": 1e-3}) as run:
        for step in range(100):
            run.log({"train/loss": 1 / (step + 1)})

History lands as Hive-partitioned Parquet under the store root (./runlake-store by default);
docs/FORMAT.md is the contract.
"""

from __future__ import annotations

import importlib
from typing import Any

from runlake.errors import (
    ArtifactNotFoundError,
    ConfigError,
    Error,
    FormatVersionError,
    InvalidNameError,
    InvalidValueError,
    MissingExtraError,
    ResumeError,
    RunExistsError,
    RunFileError,
    RunInUseError,
    RunNotFoundError,
    UsageError,
)

# Every other public name is resolved on first use, so that `import runlake` (and
# `import runlake.engine`, which runs this file first) loads no Run, media or read side.
_LAZY = {
    "AlertLevel": ("runlake.tracking.alerts", "AlertLevel"),
    "Api": ("runlake.query", "Api"),
    "Artifact": ("runlake.artifacts.artifact", "Artifact"),
    "Audio": ("runlake.media.audio", "Audio"),
    "CustomChart": ("runlake.tables.chart", "CustomChart"),
    "Histogram": ("runlake.media.histogram", "Histogram"),
    "Html": ("runlake.media.html", "Html"),
    "Image": ("runlake.media.image", "Image"),
    "Metric": ("runlake.tracking.metric", "Metric"),
    "Object3D": ("runlake.media.object3d", "Object3D"),
    "Plotly": ("runlake.media.figures", "Plotly"),
    "Run": ("runlake.tracking.run", "Run"),
    "RunStatus": ("runlake.tracking.run", "RunStatus"),
    "Settings": ("runlake.tracking.settings", "Settings"),
    "Table": ("runlake.tables.table", "Table"),
    "Video": ("runlake.media.video", "Video"),
    "agent": ("runlake.compat.module", "agent"),
    "alert": ("runlake.tracking.session", "alert"),
    "as_wandb": ("runlake.compat.alias", "as_wandb"),
    "define_metric": ("runlake.tracking.session", "define_metric"),
    "finish": ("runlake.tracking.session", "finish"),
    "init": ("runlake.tracking.session", "init"),
    "link_model": ("runlake.tracking.session", "link_model"),
    "log": ("runlake.tracking.session", "log"),
    "log_artifact": ("runlake.tracking.session", "log_artifact"),
    "log_model": ("runlake.tracking.session", "log_model"),
    "login": ("runlake.compat.module", "login"),
    "mark_preempting": ("runlake.tracking.session", "mark_preempting"),
    "plot": ("runlake.tables.plot", None),
    "plot_table": ("runlake.tables.plot", "plot_table"),
    "require": ("runlake.compat.module", "require"),
    "restore": ("runlake.tracking.session", "restore"),
    "save": ("runlake.tracking.session", "save"),
    "setup": ("runlake.compat.module", "setup"),
    "sweep": ("runlake.compat.module", "sweep"),
    "teardown": ("runlake.compat.module", "teardown"),
    "termerror": ("runlake.compat.term", "termerror"),
    "termlog": ("runlake.compat.term", "termlog"),
    "termwarn": ("runlake.compat.term", "termwarn"),
    "unwatch": ("runlake.tracking.session", "unwatch"),
    "use_artifact": ("runlake.tracking.session", "use_artifact"),
    "use_model": ("runlake.tracking.session", "use_model"),
    "util": ("runlake.compat.util", None),
    "watch": ("runlake.tracking.session", "watch"),
}

__version__ = "0.1.0"

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "ArtifactNotFoundError",
    "ConfigError",
    "CustomChart",
    "Error",
    "FormatVersionError",
    "Histogram",
    "Html",
    "Image",
    "InvalidNameError",
    "InvalidValueError",
    "Metric",
    "MissingExtraError",
    "Object3D",
    "Plotly",
    "ResumeError",
    "Run",
    "RunExistsError",
    "RunFileError",
    "RunInUseError",
    "RunNotFoundError",
    "RunStatus",
    "Settings",
    "Table",
    "UsageError",
    "Video",
    "__version__",
    "agent",
    "alert",
    "as_wandb",
    "config",
    "define_metric",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "mark_preempting",
    "plot",
    "plot_table",
    "require",
    "restore",
    "run",
    "save",
    "setup",
    "summary",
    "sweep",
    "teardown",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "use_model",
    "util",
    "watch",
]


class _PreInit:
    """Stands in for `runlake.config` / `runlake.summary` while no run is active."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise UsageError(f"You must call runlake.init() before using runlake.{self._name}")

    __getitem__ = __setitem__ = __contains__ = __iter__ = __len__ = _fail
    update = keys = items = get = _fail

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        self._fail()

    def __repr__(self) -> str:
        return f"<runlake.{self._name}: no active run>"


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is not None:
        module = importlib.import_module(target[0])
        value = module if target[1] is None else getattr(module, target[1])
        globals()[name] = value  # resolved once; later lookups never come back here
        return value
    # `runlake.run`, `.config` and `.summary` follow the active run (None / a guard before init).
    if name in ("run", "config", "summary"):
        from runlake.tracking import session

        run = session.active_run()
        if name == "run":
            return run
        return getattr(run, name) if run is not None else _PreInit(name)
    raise AttributeError(f"module 'runlake' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""runlake: a local-first, columnar experiment tracker with the wandb.Run API.

    import runlake as wandb

    with wandb.init(project="mnist", config={"lr": 1e-3}) as run:
        for step in range(100):
            run.log({"train/loss": 1 / (step + 1)})

History lands as Hive-partitioned Parquet under the store root (./runlake by default);
docs/FORMAT.md is the contract.
"""

from __future__ import annotations

from typing import Any

from runlake.engine.errors import (
    ArtifactNotFoundError,
    ConfigError,
    Error,
    InvalidNameError,
    InvalidValueError,
    MissingExtraError,
    ResumeError,
    RunFileError,
    RunExistsError,
    RunInUseError,
    RunNotFoundError,
    UsageError,
)

from .alerts import AlertLevel
from .artifact import Artifact
from .audio import Audio
from .figures import Plotly
from .histogram import Histogram
from .html_media import Html
from .image import Image
from .object3d import Object3D
from .video import Video
from .live_run import Run, RunStatus
from .metric import Metric
from .plot import plot_table
from .session import alert, define_metric, finish, init, log, restore, save, unwatch, watch
from . import plot
from .chart import CustomChart
from .settings import Settings
from .table import Table

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
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "plot",
    "plot_table",
    "restore",
    "run",
    "save",
    "summary",
    "unwatch",
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
    # `runlake.run`, `.config` and `.summary` follow the active run (None / a guard before init).
    from . import session

    if name == "run":
        return session.active_run()
    if name == "Api":  # the read side, imported on first use to keep `import runlake` light
        from runlake.query import Api

        return Api
    if name in ("config", "summary"):
        run = session.active_run()
        return getattr(run, name) if run is not None else _PreInit(name)
    raise AttributeError(f"module 'runlake' has no attribute {name!r}")

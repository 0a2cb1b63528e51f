"""What a live run watches beside `log()`: system metrics (sdk/monitor/system.py) and the
console (sdk/monitor/console.py), started by `Run.__init__` as its settings say and stopped by
`finish()`. A disabled run has neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runlake.engine.layout import RunPaths

from runlake.monitor.console import ConsoleCapture
from runlake.monitor.system import SystemMonitor

if TYPE_CHECKING:
    from runlake.tracking.settings import Settings

OUTPUT_LOG = "output.log"  # wandb's name, in the run's files


class Monitors:
    def __init__(self, system: SystemMonitor | None, console: ConsoleCapture | None) -> None:
        self.system = system
        self.console = console

    def flush(self) -> None:
        """Write the console captured so far (a SIGTERM's handler, before the process ends)."""
        if self.console is not None:
            self.console.flush()

    def stop(self) -> None:
        """Last system sample, streams restored, output.log complete. Never raises."""
        if self.system is not None:
            self.system.stop()
        if self.console is not None:
            self.console.stop()


def start(settings: Settings, paths: RunPaths, start_time: float) -> Monitors:
    system = console = None
    if settings.system_metrics:
        assert settings.system_metrics_interval is not None  # resolved by settings.resolve
        system = SystemMonitor(paths, start_time, settings.system_metrics_interval,
                               fsync=settings.fsync)
        system.start()
    if settings.console != "off":
        console = ConsoleCapture(paths.files_dir / OUTPUT_LOG)
        console.start()
    return Monitors(system, console)

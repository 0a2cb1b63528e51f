"""The sampler thread: system metrics every `interval` seconds into the run's system stream.

It never touches `log()`'s path: it has its own thread, its own files (engine/system.py) and
no lock shared with the run. Each sample is one WAL frame, so a killed process loses at most
the sample being taken. It stops at `stop()` (`finish()`), taking one last sample first, so
a run shorter than the interval has one too; on a crash the daemon thread dies with the
process. Nothing it does raises into the user's code: the first failure (taking or writing
a sample) is reported once as a RuntimeWarning, and it keeps trying.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from runlake.engine.layout import RunPaths
from runlake.engine.system import SystemWriter, sample_table

STOP_TIMEOUT = 10.0  # seconds stop() waits for the last sample and segment


class SystemMonitor:
    def __init__(self, paths: RunPaths, start_time: float, interval: float, *,
                 fsync: bool = False, sampler: Callable[[], Any] | None = None,
                 segment_samples: int | None = None) -> None:
        self.paths = paths
        self.interval = interval
        self._start_time = start_time
        self._fsync = fsync
        self._make_sampler = sampler or _default_sampler
        self._segment_samples = segment_samples
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runlake-system", daemon=True)
        self._warned = False
        self.samples = 0  # written
        self.error: BaseException | None = None  # the first failure, reported once

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Take a last sample, publish the segment, end the thread (waits STOP_TIMEOUT at most)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_TIMEOUT)

    def _run(self) -> None:
        kwargs = {} if self._segment_samples is None else {"segment_samples": self._segment_samples}
        sampler = None
        try:
            sampler = self._make_sampler()
            writer = SystemWriter(self.paths, fsync=self._fsync, **kwargs)  # lists the store
        except Exception as exc:
            self._report("could not start sampling", exc)
            if sampler is not None:
                sampler.close()
            return
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                self._take(sampler, writer)
                if stopping:
                    break
        finally:
            try:
                writer.close()
            except Exception as exc:
                self._report("could not publish the last system segment (its WAL stays readable)",
                             exc)
            try:
                sampler.close()
            except Exception:
                pass

    def _take(self, sampler: Any, writer: SystemWriter) -> None:
        try:
            values = sampler.sample()
            now = time.time()
            writer.append(sample_table(now, now - self._start_time, values))
            self.samples += 1
        except Exception as exc:
            self._report("a sample failed", exc)

    def _report(self, what: str, exc: BaseException) -> None:
        if self._warned:
            return
        self._warned = True
        self.error = exc
        warnings.warn(
            f"runlake: system metrics of run {self.paths.entity}/{self.paths.project}/"
            f"{self.paths.run_id}: {what} ({type(exc).__name__}: {exc}); training goes on, "
            "and later failures are not reported again. Settings(system_metrics=False) turns "
            "system metrics off.",
            RuntimeWarning, stacklevel=2,
        )


def _default_sampler() -> Any:
    from runlake.monitor.gpu import Gpus
    from runlake.monitor.sampler import Sampler

    return Sampler(gpus=Gpus.open())

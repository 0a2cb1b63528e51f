"""One sample of the machine a run is on: its process tree, memory, disk, network and GPUs.

Metric names are wandb's, as its history shows them (prefix `system.`):

| name | meaning |
| --- | --- |
| `system.cpu` | CPU percent of the process tree (this process and its children, recursively), over the interval, divided by the number of CPUs (wandb's normalisation: 100 = every core busy) |
| `system.cpu.<i>.cpu_percent` | each core's utilisation, machine-wide |
| `system.proc.cpu.threads` | threads of the process tree |
| `system.memory_percent` | machine memory in use, percent |
| `system.proc.memory.rssMB` | resident memory of the process tree, MB (2**20 bytes) |
| `system.proc.memory.percent` | that, as a percent of the machine's memory |
| `system.proc.memory.availableMB` | machine memory available, MB |
| `system.disk./.usagePercent`, `.usageGB` | use of the disk mounted at `/` (wandb's default path) |
| `system.disk.in`, `system.disk.out` | MB read / written machine-wide since the first sample |
| `system.network.sent`, `system.network.recv` | bytes sent / received machine-wide since the first sample |
| `system.gpu.<i>.*` | NVIDIA GPUs, when `pynvml` is importable (sdk/monitor/gpu.py) |

A metric the platform cannot give (no disk counters in some containers) is left out.
"""

from __future__ import annotations

import os
import time
from typing import Any

MB = 1 << 20
PREFIX = "system."


class Sampler:
    """Takes samples; the first one sets the baselines (CPU times, disk and network counters).

    Not thread-safe: the sampler thread owns it. Imports psutil (a core dependency) on
    construction, so `import runlake` does not.
    """

    def __init__(self, pid: int | None = None, disk_path: str | None = "/",
                 gpus: Any = None) -> None:
        import psutil

        self._psutil = psutil
        self._root = psutil.Process(pid or os.getpid())
        self._disk_path = disk_path
        self._gpus = gpus
        self._ncpu = psutil.cpu_count() or 1
        # CPU seconds per process of the tree at the last sample, keyed by (pid, create time)
        # so a reused pid is a new process.
        self._cpu: dict[tuple[int, float], float] = {}
        self._last: float | None = None  # monotonic time of the last sample
        self._disk0 = self._net0 = None
        psutil.cpu_percent(percpu=True)  # per-core percent is measured from this call on
        self._tree_cpu(time.monotonic())

    def _tree(self) -> list[Any]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except self._psutil.NoSuchProcess:
            return []

    def _tree_cpu(self, now: float) -> tuple[float | None, int, int]:
        """(CPU percent since the last call, RSS bytes, threads) over the process tree."""
        ps = self._psutil
        seen: dict[tuple[int, float], float] = {}
        used = 0.0
        rss = threads = 0
        for proc in self._tree():
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    t = proc.cpu_times()
                    total = t.user + t.system
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
            except (ps.NoSuchProcess, ps.ZombieProcess, ps.AccessDenied):
                continue  # exited between listing and reading (its last CPU time is lost)
            seen[key] = total
            before = self._cpu.get(key)
            if before is not None:
                used += total - before
            elif self._last is not None:
                used += total  # born since the last sample: all its CPU time is in this interval
        self._cpu = seen
        last, self._last = self._last, now
        if last is None or now <= last:
            return None, rss, threads
        return max(0.0, used / (now - last) * 100 / self._ncpu), rss, threads

    def sample(self) -> dict[str, float]:
        """The metrics now, by wandb's names."""
        ps = self._psutil
        out: dict[str, float] = {}
        cpu, rss, threads = self._tree_cpu(time.monotonic())
        if cpu is not None:
            out["cpu"] = cpu
        for i, pct in enumerate(ps.cpu_percent(percpu=True)):
            out[f"cpu.{i}.cpu_percent"] = pct
        out["proc.cpu.threads"] = threads
        mem = ps.virtual_memory()
        out["memory_percent"] = mem.percent
        out["proc.memory.rssMB"] = rss / MB
        out["proc.memory.percent"] = rss / mem.total * 100 if mem.total else 0.0
        out["proc.memory.availableMB"] = mem.available / MB
        if self._disk_path is not None:
            try:
                usage = ps.disk_usage(self._disk_path)
                out[f"disk.{self._disk_path}.usagePercent"] = usage.percent
                out[f"disk.{self._disk_path}.usageGB"] = usage.used / (1 << 30)
            except OSError:
                pass
        disk = _counters(ps.disk_io_counters)
        if disk is not None:
            self._disk0 = self._disk0 or disk
            out["disk.in"] = (disk.read_bytes - self._disk0.read_bytes) / MB
            out["disk.out"] = (disk.write_bytes - self._disk0.write_bytes) / MB
        net = _counters(ps.net_io_counters)
        if net is not None:
            self._net0 = self._net0 or net
            out["network.sent"] = net.bytes_sent - self._net0.bytes_sent
            out["network.recv"] = net.bytes_recv - self._net0.bytes_recv
        if self._gpus is not None:
            out.update(self._gpus.sample())
        return {PREFIX + k: float(v) for k, v in out.items()}

    def close(self) -> None:
        if self._gpus is not None:
            self._gpus.close()


def _counters(read: Any) -> Any:
    try:
        return read()  # None, or an error, where the platform has no such counters
    except (OSError, RuntimeError):
        return None

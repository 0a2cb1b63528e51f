"""NVIDIA GPU metrics through NVIDIA's management library, when `pynvml` is importable.

`pynvml` (the nvidia-ml-py package) is not a dependency: without it, or without a driver,
`Gpus.open()` returns None and samples have no GPU columns. Names are wandb's (`gpu.<i>.*`,
prefixed `system.` by the sampler):

| name | meaning |
| --- | --- |
| `gpu.<i>.gpu` | utilisation, percent |
| `gpu.<i>.memory` | memory-controller utilisation, percent |
| `gpu.<i>.memoryAllocated` | memory allocated, percent of the total |
| `gpu.<i>.memoryAllocatedBytes` | memory allocated, bytes |
| `gpu.<i>.temp` | temperature, °C |
| `gpu.<i>.powerWatts` | power draw, W |
| `gpu.<i>.powerPercent` | power draw, percent of the power limit |

A reading a device does not support is left out of that sample.
"""

from __future__ import annotations

from typing import Any


class Gpus:
    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles

    @classmethod
    def open(cls) -> Gpus | None:
        """The machine's NVIDIA GPUs, or None (no pynvml, no driver, no device)."""
        try:
            import pynvml
        except ImportError:
            return None
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:  # pynvml.NVMLError and friends: no driver, no permission
            return None
        if not handles:
            _shutdown(pynvml)
            return None
        return cls(pynvml, handles)

    def sample(self) -> dict[str, float]:
        nvml = self._nvml
        out: dict[str, float] = {}
        for i, h in enumerate(self._handles):
            p = f"gpu.{i}."
            _read(out, p + "gpu", lambda h=h: nvml.nvmlDeviceGetUtilizationRates(h).gpu)
            _read(out, p + "memory", lambda h=h: nvml.nvmlDeviceGetUtilizationRates(h).memory)
            try:
                mem = nvml.nvmlDeviceGetMemoryInfo(h)
                out[p + "memoryAllocated"] = mem.used / mem.total * 100 if mem.total else 0.0
                out[p + "memoryAllocatedBytes"] = mem.used
            except Exception:
                pass
            _read(out, p + "temp",
                  lambda h=h: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))
            try:
                watts = nvml.nvmlDeviceGetPowerUsage(h) / 1000  # milliwatts
                out[p + "powerWatts"] = watts
                limit = nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000
                if limit:
                    out[p + "powerPercent"] = watts / limit * 100
            except Exception:
                pass
        return out

    def close(self) -> None:
        _shutdown(self._nvml)


def _read(out: dict[str, float], name: str, get: Any) -> None:
    try:
        out[name] = float(get())
    except Exception:  # not supported by this device (NVMLError_NotSupported, ...)
        pass


def _shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except Exception:
        pass

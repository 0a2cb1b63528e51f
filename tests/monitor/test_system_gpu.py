"""GPU metrics (sdk/monitor/gpu.py) through a stand-in for NVIDIA's `pynvml`, which this
machine lacks: names, units, readings a device does not support, and no pynvml at all."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from runlake.monitor.gpu import Gpus
from runlake.monitor.sampler import Sampler


class NVMLError(Exception):
    pass


def fake_pynvml(count: int = 2, init_fails: bool = False) -> types.ModuleType:
    m = types.ModuleType("pynvml")
    m.NVML_TEMPERATURE_GPU = 0
    m.shutdowns = 0

    def init():
        if init_fails:
            raise NVMLError("Driver Not Loaded")

    def shutdown():
        m.shutdowns += 1

    def temperature(h, sensor):
        if h == 1:
            raise NVMLError("Not Supported")  # device 1 has no sensor
        return 61

    m.nvmlInit = init
    m.nvmlShutdown = shutdown
    m.nvmlDeviceGetCount = lambda: count
    m.nvmlDeviceGetHandleByIndex = lambda i: i
    m.nvmlDeviceGetUtilizationRates = lambda h: SimpleNamespace(gpu=90 + h, memory=40)
    m.nvmlDeviceGetMemoryInfo = lambda h: SimpleNamespace(used=4 << 30, total=16 << 30)
    m.nvmlDeviceGetTemperature = temperature
    m.nvmlDeviceGetPowerUsage = lambda h: 150_000  # mW
    m.nvmlDeviceGetEnforcedPowerLimit = lambda h: 300_000
    return m


def test_gpu_metrics_by_wandbs_names(monkeypatch):
    nvml = fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    gpus = Gpus.open()
    assert gpus is not None
    got = gpus.sample()
    assert got["gpu.0.gpu"] == 90 and got["gpu.1.gpu"] == 91
    assert got["gpu.0.memory"] == 40
    assert got["gpu.0.memoryAllocated"] == 25.0
    assert got["gpu.0.memoryAllocatedBytes"] == 4 << 30
    assert got["gpu.0.temp"] == 61 and "gpu.1.temp" not in got  # unsupported: left out
    assert got["gpu.0.powerWatts"] == 150.0 and got["gpu.0.powerPercent"] == 50.0
    gpus.close()
    assert nvml.shutdowns == 1


def test_the_sampler_prefixes_gpu_metrics(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(count=1))
    sample = Sampler(gpus=Gpus.open()).sample()
    assert sample["system.gpu.0.gpu"] == 90.0 and "system.cpu" in sample


@pytest.mark.parametrize("how", ["not installed", "no driver", "no device"])
def test_no_gpu_is_no_gpu_columns(monkeypatch, how):
    if how == "not installed":
        monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    else:
        monkeypatch.setitem(sys.modules, "pynvml",
                            fake_pynvml(count=0, init_fails=how == "no driver"))
    assert Gpus.open() is None
    assert not any(".gpu." in k for k in Sampler(gpus=Gpus.open()).sample())

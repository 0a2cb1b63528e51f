"""The sampler (sdk/monitor/sampler.py), its thread (sdk/monitor/system.py) and the settings
that turn it off. No timing is asserted: tests wait for what they need, then check values."""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import runlake
from runlake.engine.layout import RunPaths
from runlake.monitor.system import SystemMonitor
from runlake.monitor.sampler import Sampler
from tests.helpers import wait_for

# A child that starts a grandchild burning CPU, then sleeps; the grandchild says when it has
# used 0.3 s of CPU and keeps burning until killed.
BURNER = """
import os, sys, time
t0 = time.process_time()
while time.process_time() - t0 < 0.3:
    pass
sys.stdout.write("burnt\\n"); sys.stdout.flush()
while True:
    pass
"""
PARENT = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {BURNER!r}], stdout=sys.stdout)
child.wait()
"""


@pytest.mark.slow
def test_the_process_tree_counts_grandchildren(tmp_path):
    sampler = Sampler()  # baseline before the children exist
    proc = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "burnt\n"
        own = Sampler()._tree()  # noqa: SLF001 - the tree as listed now
        assert {p.pid for p in own} >= {proc.pid}  # child and grandchild are in it
        assert len(own) >= 3
        values = sampler.sample()
    finally:
        for p in Sampler()._tree()[1:]:
            p.kill()
        proc.wait()
    # The grandchild used >= 0.3 s of CPU since the baseline; it started after it, so all of
    # that counts in this interval.
    assert values["system.cpu"] > 0
    assert values["system.proc.cpu.threads"] >= 3
    assert values["system.proc.memory.rssMB"] > 0
    assert 0 < values["system.memory_percent"] <= 100
    assert {"system.network.sent", "system.network.recv"} <= set(values)
    assert all(isinstance(v, float) for v in values.values())
    assert all(k.startswith("system.") for k in values)


def test_disk_and_network_are_counted_from_the_first_sample():
    sampler = Sampler()
    first = sampler.sample()
    for key in ("system.network.sent", "system.network.recv", "system.disk.in", "system.disk.out"):
        if key in first:  # disk counters are missing in some containers
            assert first[key] == 0.0
    second = sampler.sample()
    assert second.get("system.network.sent", 0.0) >= 0.0


class FakeSampler:
    def __init__(self, fail_at: set[int] = frozenset()):
        self.n = 0
        self.fail_at = fail_at
        self.closed = False

    def sample(self):
        self.n += 1
        if self.n in self.fail_at:
            raise RuntimeError(f"sample {self.n} failed")
        return {"system.cpu": float(self.n)}

    def close(self):
        self.closed = True


def samples_of(paths: RunPaths) -> list[float]:
    files = sorted(paths.system_dir.glob("part-*.parquet"))
    return [v for f in files for v in pq.read_table(f, partitioning=None)["system.cpu"].to_pylist()]


def test_a_failing_sample_is_reported_once_and_sampling_goes_on(tmp_path):
    paths = RunPaths.of(tmp_path, "e", "p", "r")
    fake = FakeSampler(fail_at={2, 3, 4})
    monitor = SystemMonitor(paths, 0.0, 0.01, sampler=lambda: fake)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.start()
        wait_for("samples after the failures", lambda: monitor.samples >= 3, 60)
        monitor.stop()
    reported = [w for w in caught if "system metrics" in str(w.message)]
    assert len(reported) == 1
    assert "sample 2 failed" in str(reported[0].message)
    assert "system_metrics=False" in str(reported[0].message)
    assert isinstance(monitor.error, RuntimeError)
    got = samples_of(paths)
    assert got[:2] == [1.0, 5.0] and 2.0 not in got and got == sorted(got)
    assert fake.closed


def test_stop_takes_a_last_sample_and_ends_the_thread(tmp_path):
    paths = RunPaths.of(tmp_path, "e", "p", "r")
    monitor = SystemMonitor(paths, 0.0, 3600.0, sampler=FakeSampler)
    monitor.start()
    monitor.stop()  # long before the first interval
    assert not monitor._thread.is_alive()  # noqa: SLF001
    assert samples_of(paths) == [1.0]
    assert not list(paths.system_wal_dir.glob("*.arrows"))


def test_a_sampler_that_cannot_start_is_reported(tmp_path):
    def broken():
        raise ImportError("no psutil here")

    monitor = SystemMonitor(RunPaths.of(tmp_path, "e", "p", "r"), 0.0, 0.01, sampler=broken)
    with pytest.warns(RuntimeWarning, match="could not start sampling.*no psutil here"):
        monitor.start()
        monitor._thread.join(60)  # noqa: SLF001
    monitor.stop()


def system_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "runlake-system" and t.is_alive()]


def test_a_run_samples_until_finish(root):
    run = runlake.init(settings=runlake.Settings(root=root, system_metrics_interval=0.02))
    paths = run._paths  # noqa: SLF001
    wait_for("a system sample in the WAL", lambda: any(paths.system_wal_dir.glob("*.arrows")), 60)
    run.log({"loss": 1.0})
    run.finish()
    assert not system_threads()
    rows = pq.read_table(paths.system_dir, partitioning=None).to_pylist()
    assert len(rows) >= 2
    assert all(r["_runtime"] >= 0 and r["_timestamp"] >= run.start_time for r in rows)
    assert "system.cpu" in rows[-1]


@pytest.mark.parametrize("how", ["setting", "alias", "env", "wandb-env"])
def test_system_metrics_off(root, monkeypatch, how):
    settings = runlake.Settings(system_metrics_interval=0.01)
    if how == "setting":
        settings = settings.replace(system_metrics=False)
    elif how == "alias":
        settings = settings.replace(x_disable_stats=True)
    elif how == "env":
        monkeypatch.setenv("RUNLAKE_SYSTEM_METRICS", "false")
    else:
        monkeypatch.setenv("WANDB_X_DISABLE_STATS", "true")
    run = runlake.init(settings=settings.replace(root=root))
    assert run.settings.system_metrics is False and run.settings.x_disable_stats is True
    assert not system_threads()
    run.log({"a": 1})
    run.finish()
    assert not (root / "system").exists()
    assert not run._paths.system_wal_dir.exists()  # noqa: SLF001


def test_the_interval_setting_and_its_aliases(monkeypatch):
    assert runlake.init(mode="disabled").settings.system_metrics_interval == 10.0
    runlake.finish()
    s = runlake.init(mode="disabled", settings=runlake.Settings(x_stats_sampling_interval=2))
    assert s.settings.system_metrics_interval == 2.0
    runlake.finish()
    monkeypatch.setenv("RUNLAKE_SYSTEM_METRICS_INTERVAL", "0.5")
    assert runlake.init(mode="disabled").settings.system_metrics_interval == 0.5
    runlake.finish()


@pytest.mark.parametrize("settings, match", [
    ({"system_metrics_interval": 0}, "system_metrics_interval must be a number of seconds"),
    ({"system_metrics_interval": "fast"}, "got str 'fast'"),
    ({"x_stats_sampling_interval": float("nan")}, "x_stats_sampling_interval"),
    ({"system_metrics": "maybe"}, "system_metrics must be a bool"),
])
def test_bad_settings_are_refused_clearly(settings, match):
    with pytest.raises(runlake.InvalidValueError, match=match):
        runlake.init(mode="disabled", settings=runlake.Settings(**settings))


def test_a_bad_environment_value_is_refused(monkeypatch):
    monkeypatch.setenv("RUNLAKE_SYSTEM_METRICS", "sometimes")
    with pytest.raises(runlake.InvalidValueError, match=r"\$RUNLAKE_SYSTEM_METRICS"):
        runlake.init(mode="disabled")


def test_a_disabled_run_starts_no_thread_and_wraps_nothing():
    before = sys.stdout
    with runlake.init(mode="disabled", settings=runlake.Settings(system_metrics_interval=0.01)):
        assert not system_threads()
        assert sys.stdout is before


@pytest.mark.slow
def test_import_runlake_does_not_load_psutil(tmp_path: Path):
    code = "import sys, runlake; print('psutil' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_detach_stops_sampling_and_console_capture(root):
    before = sys.stdout
    run = runlake.init(settings=runlake.Settings(root=root, system_metrics_interval=3600))
    assert system_threads() and "write" in vars(sys.stdout)
    run.detach()
    assert not system_threads() and sys.stdout is before and "write" not in vars(sys.stdout)
    assert len(list(run._paths.system_dir.glob("part-*.parquet"))) == 1  # noqa: SLF001


def test_a_store_that_cannot_be_written_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store should be")
    monitor = SystemMonitor(RunPaths.of(blocker, "e", "p", "r"), 0.0, 0.01, sampler=FakeSampler)
    with pytest.warns(RuntimeWarning, match="a sample failed.*(NotADirectoryError|FileExistsError)"):
        monitor.start()
        wait_for("the first failure", lambda: monitor.error is not None, 60)
        monitor.stop()
    assert not monitor._thread.is_alive()  # noqa: SLF001


@pytest.mark.slow
def test_sampling_never_loads_pandas(tmp_path: Path):
    # pyarrow's pa.array imports pandas on first use: half a second and ~50 MB in a thread
    # that shares the GIL with training. The sampler builds its rows from buffers.
    code = (
        "import sys, runlake\n"
        "run = runlake.init(settings=runlake.Settings(root='store', system_metrics_interval=0.01))\n"
        "run.log({'loss': 1.0})\n"
        "import time\n"
        "while run._monitors.system.samples < 5: time.sleep(0.01)\n"
        "run.finish()\n"
        "print('pandas' in sys.modules, run._monitors.system.samples >= 6)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert out.stdout.strip() == "False True", out.stderr

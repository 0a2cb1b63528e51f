"""runlake.as_wandb(): `import wandb` and the submodules integrations import are runlake."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import runlake
from runlake.compat import SHIM_DIR, WANDB_VERSION
from tests.helpers import run_json

# What transformers' WandbCallback, Lightning's WandbLogger and accelerate's WandBTracker
# import (their sources, read for this list), and the rest of the shim.
SUBMODULES = [
    "wandb", "wandb.errors", "wandb.errors.term", "wandb.util", "wandb.env", "wandb.plot",
    "wandb.data_types", "wandb.wandb_run", "wandb.apis", "wandb.apis.public", "wandb.sdk",
    "wandb.sdk.lib", "wandb.sdk.lib.config_util", "wandb.sdk.lib.disabled", "wandb.sdk.wandb_run",
    "wandb.sdk.wandb_settings", "wandb.sdk.wandb_config", "wandb.sdk.data_types",
]


def test_import_wandb_is_runlake(alias, root):
    import wandb

    assert wandb.__runlake__ == runlake.__version__ and wandb.__version__ == WANDB_VERSION
    assert wandb.init is runlake.init and wandb.log is runlake.log and wandb.Table is runlake.Table
    assert wandb.run is None and hasattr(wandb, "run")  # transformers' availability check
    with wandb.init(project="p", settings=wandb.Settings(root=root)) as run:
        assert wandb.run is run and wandb.config is run.config
        wandb.log({"loss": 0.5})
    assert wandb.run is None
    assert runlake.Api(root=root).run(f"p/{run.id}").summary["loss"] == 0.5


@pytest.mark.parametrize("name", SUBMODULES)
def test_the_submodules_integrations_import_resolve(alias, name):
    module = importlib.import_module(name)
    assert Path(module.__file__).is_relative_to(SHIM_DIR)


def test_the_names_integrations_use_are_runlake_objects(alias):
    import wandb
    from wandb.sdk.lib import RunDisabled
    from wandb.sdk.lib.config_util import ConfigError
    from wandb.wandb_run import Run

    assert ConfigError is runlake.ConfigError and Run is runlake.Run
    assert wandb.sdk.wandb_settings.Settings is runlake.Settings is wandb.Settings
    assert wandb.errors.UsageError is runlake.UsageError and wandb.errors.Error is runlake.Error
    assert issubclass(wandb.errors.CommError, runlake.Error)
    assert wandb.data_types.Image is runlake.Image and wandb.apis.public.Api is runlake.Api
    assert wandb.plot.line is runlake.plot.line
    with wandb.init(mode="disabled") as off:
        assert isinstance(off, RunDisabled) and isinstance(off, Run)
    with wandb.init(mode="offline") as on:
        assert not isinstance(on, RunDisabled)
    with pytest.raises(AttributeError, match="runlake's alias"):
        wandb.no_such_name


def test_metadata_and_find_spec_report_a_wandb_distribution(alias):
    assert importlib.metadata.version("wandb") == WANDB_VERSION
    dist = importlib.metadata.distribution("wandb")
    assert dist.metadata["Name"] == "wandb" and "runlake" in dist.metadata["Summary"]
    assert (SHIM_DIR / f"wandb-{WANDB_VERSION}.dist-info" / "METADATA").is_file()
    spec = importlib.util.find_spec("wandb")
    assert spec is not None and Path(spec.origin).is_relative_to(SHIM_DIR)


def test_as_wandb_twice_keeps_one_entry_and_children_inherit_it(alias):
    runlake.as_wandb()
    assert sys.path[0] == str(SHIM_DIR) and sys.path.count(str(SHIM_DIR)) == 1
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(SHIM_DIR)]


def test_a_real_wandb_already_imported_is_never_shadowed(monkeypatch):
    real = types.ModuleType("wandb")
    real.__file__ = "/site-packages/wandb/__init__.py"
    monkeypatch.setitem(sys.modules, "wandb", real)
    path = list(sys.path)
    with pytest.raises(runlake.UsageError, match="already imported.*site-packages/wandb"):
        runlake.as_wandb()
    assert sys.path == path and sys.modules["wandb"] is real


def test_without_the_alias_nothing_changes():
    """Importing runlake and runlake.compat puts nothing on the import path."""
    import runlake.compat  # noqa: F401

    assert str(SHIM_DIR) not in sys.path
    assert str(SHIM_DIR) not in os.environ.get("PYTHONPATH", "")
    spec = importlib.util.find_spec("wandb") if "wandb" not in sys.modules else None
    assert spec is None or not Path(spec.origin).is_relative_to(SHIM_DIR)


@pytest.mark.slow
def test_a_fresh_interpreter_finds_no_wandb_without_the_alias(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import importlib.util, runlake, runlake.compat\n"
            "spec = importlib.util.find_spec('wandb')\n"
            "print(spec is None or 'wandb-shim' not in (spec.origin or ''))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr


def test_module_level_forwards(root):
    for call in (lambda: runlake.log_artifact("x"), lambda: runlake.use_artifact("a:latest"),
                 lambda: runlake.log_model("x"), lambda: runlake.use_model("m:latest"),
                 lambda: runlake.link_model("x", "reg"), runlake.mark_preempting):
        with pytest.raises(runlake.UsageError, match="init"):
            call()
    run = runlake.init(project="p", settings={"root": root})
    (root.parent / "data.txt").write_text("hello")
    art = runlake.log_artifact(str(root.parent / "data.txt"), name="data", type="dataset")
    assert art.name.startswith("data")
    runlake.mark_preempting()
    assert run_json(root, run.id, project="p")["state"] == "preempting"
    run.finish()


def test_login_require_setup_and_sweeps():
    assert runlake.login() is True and runlake.login(key="x", relogin=True) is True
    assert runlake.require("service") is None and runlake.setup() is None
    with pytest.raises(runlake.UsageError, match="no sweeps"):
        runlake.sweep({"method": "grid"})
    assert len(runlake.util.generate_id()) == 8 and runlake.util.generate_id(4).isalnum()
    assert runlake.util.get_module("no_such_module_here") is None
    with pytest.raises(runlake.MissingExtraError, match="pip install"):
        runlake.util.get_module("no_such_module_here", required=True)


def test_teardown_finishes_every_live_run(root):
    first = runlake.init(settings={"root": root})
    second = runlake.init(settings={"root": root}, reinit="create_new")
    runlake.teardown()
    assert runlake.run is None
    for run in (first, second):
        assert run_json(root, run.id)["state"] == "finished"

"""The wandb integrations of transformers, Lightning and accelerate, unmodified, under the
alias: they find "wandb", build their loggers and log into runlake."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

import runlake

pytestmark = pytest.mark.slow  # imports torch and three frameworks in a fresh interpreter

SCRIPT = textwrap.dedent("""
    import runlake
    runlake.as_wandb()  # the one line, before the frameworks are imported

    from transformers.integrations import WandbCallback
    from transformers.integrations.integration_utils import is_wandb_available
    assert is_wandb_available()
    callback = WandbCallback()
    assert callback._wandb.__runlake__

    from lightning.pytorch.loggers import WandbLogger
    logger = WandbLogger(offline=True, project="lit", save_dir=".")
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"loss": 0.5}, step=3)
    assert logger.experiment.mode == "offline"
    logger.experiment.finish()

    from accelerate import PartialState
    from accelerate.tracking import WandBTracker, _available_trackers
    PartialState()
    assert [t.value for t in _available_trackers if t.value == "wandb"] == ["wandb"]
    tracker = WandBTracker("acc")
    tracker.start()
    tracker.store_init_configuration({"batch_size": 8})
    tracker.log({"acc": 0.9}, step=1)
    tracker.finish()
    print("ok")
""")


def test_transformers_lightning_and_accelerate_log_through_the_alias(tmp_path):
    for name in ("transformers", "lightning", "accelerate"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is in the 'test' extra")
    (tmp_path / "script.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("RUNLAKE_", "WANDB_"))}
    proc = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-4000:]
    # WandbLogger(save_dir=".") is init(dir="."): the store is ./runlake-store
    api = runlake.Api(root=tmp_path / "runlake-store")
    [lit] = api.runs("lit")
    assert lit.config["lr"] == 0.1 and lit.summary["loss"] == 0.5
    assert lit.summary["trainer/global_step"] == 3
    [acc] = api.runs("acc")
    assert acc.config["batch_size"] == 8 and acc.summary["acc"] == 0.9

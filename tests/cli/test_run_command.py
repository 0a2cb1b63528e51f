"""`runlake run -- CMD`: CMD (and what it starts) imports runlake as wandb; its exit code
passes through."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import runlake
from runlake.cli import main


def test_no_command_is_a_clear_error(capsys):
    for argv in (["run"], ["run", "--"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "no command to run" in err and "runlake run -- python train.py" in err


def test_help_and_a_missing_command(capsys):
    assert main(["run", "--help"]) == 0
    assert "runlake run -- torchrun" in capsys.readouterr().out
    assert main(["run", "--", "no-such-command-for-runlake"]) == 127
    assert "command not found: 'no-such-command-for-runlake'" in capsys.readouterr().err


SCRIPT = textwrap.dedent("""
    import subprocess, sys
    import wandb

    assert wandb.__runlake__, wandb
    run = wandb.init(project="alias", config={"lr": 0.1})
    for i in range(3):
        wandb.log({"loss": 1 / (i + 1)})
    child = (
        "import importlib.metadata, wandb\\n"
        "with wandb.init(project='alias', job_type='child') as run:\\n"
        "    wandb.log({'from_child': 1})\\n"
        "print(importlib.metadata.version('wandb'), wandb.__runlake__)\\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    print("child saw", out.stdout.strip())
    wandb.finish()
    sys.exit(3)
""")


@pytest.mark.slow
def test_a_script_and_its_child_log_through_the_alias(tmp_path):
    (tmp_path / "train.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("RUNLAKE_", "WANDB_"))}
    env["RUNLAKE_DIR"] = str(tmp_path / "store")
    proc = subprocess.run(
        [sys.executable, "-m", "runlake", "run", "--", sys.executable, "train.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 3, proc.stderr  # the script's own exit code
    assert f"child saw {runlake.compat.WANDB_VERSION} {runlake.__version__}" in proc.stdout
    runs = runlake.Api(root=tmp_path / "store").runs("alias")
    by_type = {r.job_type: r for r in runs}
    assert set(by_type) == {None, "child"}
    assert by_type[None].summary["loss"] == pytest.approx(1 / 3)
    assert by_type[None].config["lr"] == 0.1
    assert by_type["child"].summary["from_child"] == 1

"""A training script in a real process saves a checkpoint with policy="live", rewrites it
while the run lives, and finishes: the store keeps the last content."""

from __future__ import annotations

from pathlib import Path

import pytest

import runlake

from tests.e2e.test_training_script import run_script

pytestmark = pytest.mark.slow  # every test runs a script in its own process

TRAIN = """
    import os, sys, time
    import runlake as wandb

    settings = wandb.Settings(file_poll_interval=0.02)
    with wandb.init(project="files", save_code=True, settings=settings) as run:
        stored = os.path.join(run.dir, "checkpoints", "model.txt")
        os.makedirs("checkpoints", exist_ok=True)
        with open("checkpoints/model.txt", "w") as f:
            f.write("epoch 0")
        wandb.save("checkpoints/*")                   # policy="live"
        for epoch in range(1, 4):
            run.log({"epoch": epoch})
            with open("checkpoints/model.txt", "w") as f:
                f.write(f"epoch {epoch}")
            # the watcher copies each version while the run lives (bounded wait, no timing)
            deadline = time.monotonic() + 60
            while open(stored).read() != f"epoch {epoch}":
                if time.monotonic() > deadline:
                    sys.exit(f"epoch {epoch} was never copied while the run lived")
                time.sleep(0.01)
        with open("checkpoints/model.txt", "w") as f:
            f.write("final weights")                  # finish must copy this one
    print("RUN", run.id)
"""


def test_live_file_ends_with_the_last_content(tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = run_script(tmp_path, TRAIN, store)
    run_id = proc.stdout.split("RUN ")[1].split()[0]
    run = runlake.Api(store).run(f"files/{run_id}")
    assert run.state == "finished"
    [f] = run.files()
    assert f.name == "checkpoints/model.txt"
    with f.download(root=tmp_path / "restored") as fh:
        assert fh.read() == "final weights"
    [code] = [a for a in run.logged_artifacts() if a.type == "code"]
    assert code.name == "source-files-train.py:v0" and code.files() == ["train.py"]
    assert run.history(format="records")[-1]["epoch"] == 3


PREEMPTED = """
    import os, signal, time
    import runlake as wandb

    run = wandb.init(project="files", settings=wandb.Settings(file_poll_interval=3600))
    print("RUN", run.id, flush=True)
    for name in ("live.txt", "end.txt"):
        with open(name, "w") as f:
            f.write("before")
    run.save("live.txt")                          # the watcher never looks again in this test
    run.save("end.txt", policy="end")
    for name in ("live.txt", "end.txt"):
        with open(name, "w") as f:
            f.write("at SIGTERM")
    os.kill(os.getpid(), signal.SIGTERM)          # preempted: no finish() will run
    time.sleep(600)
"""


def test_sigterm_copies_saved_files_before_the_process_ends(tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = run_script(tmp_path, PREEMPTED, store, expect_ok=False)
    assert proc.returncode == -15, proc.stderr
    run_id = proc.stdout.split("RUN ")[1].split()[0]
    run = runlake.Api(store).run(f"files/{run_id}")
    assert run.state == "preempting"
    stored = {f.name: f.download(root=tmp_path / "dl").read() for f in run.files()}
    # output.log is the console captured so far (sdk/monitor/console.py), written at SIGTERM too.
    assert stored == {"end.txt": "at SIGTERM", "live.txt": "at SIGTERM",
                      "output.log": f"RUN {run_id}\n"}

"""Media survive kill -9: every row readable after a crash names a media file that is on disk.

A process logs an image (and a histogram) per step; it is killed at random moments. After
recovery (runlake.Api reads recover the run), every row's image reference must name a file
whose bytes hash to its sha256: files are written before the rows that name them.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import runlake
from tests.helpers import wait_for

pytestmark = pytest.mark.slow  # a real process, killed

CHILD = """
    import sys
    import numpy as np
    import runlake

    run = runlake.init(project="p")
    print(run.id, flush=True)
    rng = np.random.default_rng(int(sys.argv[1]))
    step = 0
    while True:
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        run.log({"img": runlake.Image(pixels, caption=str(step)), "w": rng.normal(size=100),
                 "loss": 1 / (step + 1)})
        if step % 10 == 0:
            print(step, flush=True)
        step += 1
"""


def test_every_row_after_a_kill_names_a_whole_file(tmp_path):
    rng = random.Random(20261124)
    for trial in range(4):
        store = tmp_path / f"t{trial}"
        store.mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CHILD), str(trial)], cwd=store,
            stdout=subprocess.PIPE, text=True,
        )
        try:
            run_id = proc.stdout.readline().strip()
            wait_for("the child to log", lambda: proc.stdout.readline().strip() not in ("", "0"), 60)
            time.sleep(rng.uniform(1.0, 2.0))  # past the loss window: some rows are durable
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(30)
            proc.stdout.close()
        run = runlake.Api(root=store / "runlake-store").run(f"p/{run_id}")
        history = run.history(samples=None)
        assert len(history) > 0
        files = store / "runlake-store" / "runs" / "entity=local" / "project=p" / f"run_id={run_id}" / "files"
        steps = history["_step"].tolist()
        assert steps == list(range(len(steps)))
        for step, ref, hist in zip(steps, history["img"], history["w"]):
            data = (files / ref["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref["sha256"], step
            assert ref["caption"] == str(step) and sum(hist["values"]) == 100

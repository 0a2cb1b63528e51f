"""log() from several threads: every row gets its own step, none is lost."""

from __future__ import annotations

import sys
import threading

import runlake
from tests.helpers import history

THREADS, CALLS = 4, 8_000


def test_logging_from_several_threads_gives_unique_increasing_steps(root):
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so interleavings happen
    try:
        run = runlake.init(settings={"root": root})
        start = threading.Barrier(THREADS)

        def work(k: int) -> None:
            start.wait()
            for i in range(CALLS):
                if i % 7 == k:  # a row of another shape takes the slow path
                    run.log({f"t{k}": i, "other": "x"})
                else:  # rows of one shape take the fast path
                    run.log({"x": float(i)})

        threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        run.finish()
    finally:
        sys.setswitchinterval(interval)
    steps = history(root).column("_step").to_pylist()
    assert len(steps) == THREADS * CALLS
    assert steps == list(range(THREADS * CALLS))
    assert run.step == THREADS * CALLS

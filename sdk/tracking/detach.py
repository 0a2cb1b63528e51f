"""`Run.detach()`: this process lets go of a live run without finishing it.

Everything logged is made durable and compacted into Parquet (as `finish()` does), the
writer thread stops, run.json records state "detached" with the summary, and the run's
ownership lock (engine/lock.py) is released, so another process (or this one) can go on
with `init(id=..., resume="must")`. "detached" is not a live state: readers and recovery
leave it alone, where a "running" run.json without a lock holder would read "crashed". The
run stays this process's no more: `log()` and the other writing calls raise UsageError, and
it is no longer the active run, so exit does not finish it.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING

from runlake.engine.meta import RunState
from runlake.engine.times import iso

if TYPE_CHECKING:
    from runlake.tracking.run import Run

STATE = RunState.DETACHED


def detach(run: Run) -> None:
    with run._log_lock:
        if run._detached or run._disabled:
            return  # detached already; a disabled run holds nothing
        if run._finished:
            raise run._closed("detach()")
        run._commit(run._buffer.step)
        run._finished = True  # every writing call now refuses, as after finish()
        run._detached = True
        run._buffer.disarm()
    from runlake.tracking import session

    try:
        assert run._writer is not None and run._meta is not None
        if run._files is not None:  # saved files get their last copies, as at finish
            run._files.close()
        run._writer.close()  # every row into the WAL, then compacted into Parquet
        report = run._writer.error_report()
        try:
            run._meta.update(state=STATE, summary=run._summary.as_dict(),
                             heartbeat_at=iso(time.time()))
        except OSError as exc:
            warnings.warn(
                f"runlake: could not write run {run.path}'s run.json at detach "
                f"({type(exc).__name__}: {exc}); readers will see it as crashed, and it can "
                "still be resumed", RuntimeWarning, stacklevel=3,
            )
        if report is not None:
            warnings.warn(report, RuntimeWarning, stacklevel=3)
    finally:
        run._release_hooks()
        if run._monitors is not None:  # system sampling and console capture end here too
            run._monitors.stop()
        if run._owner is not None:
            run._owner.release()
        session._detached(run)



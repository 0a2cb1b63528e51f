"""`Continued`: the state a resumed, rewound or forked Run starts from.

sdk/tracking/continuation.py reads it from the store and hands it to `Run(continued=...)`;
it lives apart from both so that the Run needs nothing of continuation.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runlake.engine import lock
from runlake.engine.convert import RunSchema

from runlake.tracking.metric import MetricRegistry


@dataclass
class Continued:
    """Where a continued Run starts: handed to `Run(continued=...)`."""

    owner: lock.RunLock
    step: int                # the first step to log
    first_seq: int           # the first WAL/segment sequence number to write
    start_time: float        # `_runtime` counts from it: now minus the runtime so far
    schema: RunSchema        # the history's column kinds
    resumed: bool            # the same run goes on (False for a fork)
    metrics: MetricRegistry
    last: dict[str, Any]
    aggregates: dict[str, tuple[float, float, float, float, int]]
    user: dict[str, Any] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # run.json fields a new run would not have

"""`define_metric`: per-metric x-axis, hiding and summary aggregation, with glob names.

A later definition of the same name merges with the earlier one (unset arguments keep the
earlier values, summaries accumulate) unless `overwrite=True`, where it replaces it. Exact
names take precedence over globs; among globs the latest definition wins.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from typing import Any

from runlake.errors import InvalidNameError, InvalidValueError

SUMMARY_OPS = ("min", "max", "mean", "last", "best", "copy", "none", "first")
GOALS = ("minimize", "maximize")


@dataclass(frozen=True)
class Metric:
    """What one `define_metric` call (after merging) says about a metric or glob."""

    name: str
    step_metric: str | None = None
    sync: bool | None = None  # step_sync as given
    hidden: bool | None = None
    ops: tuple[str, ...] = ()  # the summary aggregations, in the order given
    goal: str | None = None

    @property
    def step_sync(self) -> bool:
        """wandb's reading: True when a step metric is set and step_sync was not False."""
        return self.sync if self.sync is not None else self.step_metric is not None

    @property
    def summary(self) -> tuple[str, ...] | None:
        """The summary aggregations, or None where none were asked for (as wandb's)."""
        return self.ops or None

    @property
    def is_glob(self) -> bool:
        return any(c in self.name for c in "*?[")

    @property
    def syncs_step(self) -> bool:
        return self.step_metric is not None and self.sync is not False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "step_metric": self.step_metric, "step_sync": self.sync,
            "hidden": self.hidden, "summary": list(self.ops), "goal": self.goal,
        }


def parse_summary(summary: str | None) -> tuple[str, ...]:
    if summary is None:
        return ()
    if not isinstance(summary, str):
        raise InvalidValueError(
            f"define_metric summary must be a str like 'min,max', got {type(summary).__name__} "
            f"{summary!r}"
        )
    ops = tuple(dict.fromkeys(s.strip().lower() for s in summary.split(",") if s.strip()))
    bad = [op for op in ops if op not in SUMMARY_OPS]
    if bad:
        raise InvalidValueError(
            f"define_metric summary {bad[0]!r} is not supported; use a comma-separated list of "
            f"{', '.join(SUMMARY_OPS)}"
        )
    return ops


class MetricRegistry:
    """The run's metric definitions and the lookup of the definition that governs a key."""

    def __init__(self) -> None:
        self._defs: dict[str, Metric] = {}
        self._cache: dict[str, Metric | None] = {}
        self.step_metrics: set[str] = set()

    def define(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        if not isinstance(name, str) or not name:
            raise InvalidNameError(
                f"define_metric name must be a non-empty string, got {type(name).__name__} "
                f"{name!r}: pass the metric's key, or a glob like 'train/*'"
            )
        if step_metric is not None and not isinstance(step_metric, str):
            step_metric = getattr(step_metric, "name", step_metric)
            if not isinstance(step_metric, str):
                raise InvalidValueError(
                    f"define_metric({name!r}) step_metric must be a metric name or a Metric, "
                    f"got {type(step_metric).__name__} {step_metric!r}"
                )
        if goal is not None:
            goal = str(goal).lower()
            if goal not in GOALS:
                raise InvalidValueError(
                    f"define_metric({name!r}) goal must be 'minimize' or 'maximize', got {goal!r}"
                )
        for flag, value in (("step_sync", step_sync), ("hidden", hidden), ("overwrite", overwrite)):
            if value is not None and not isinstance(value, bool):
                raise InvalidValueError(
                    f"define_metric({name!r}) {flag} must be True, False or None, got "
                    f"{type(value).__name__} {value!r}")
        ops = parse_summary(summary)
        old = self._defs.get(name)
        if old is None or overwrite:
            new = Metric(name, step_metric, step_sync, hidden, ops, goal)
        else:
            new = replace(
                old,
                step_metric=old.step_metric if step_metric is None else step_metric,
                sync=old.sync if step_sync is None else step_sync,
                hidden=old.hidden if hidden is None else hidden,
                ops=tuple(dict.fromkeys(old.ops + ops)),
                goal=old.goal if goal is None else goal,
            )
        if "best" in new.ops and new.goal is None:
            raise InvalidValueError(
                f"define_metric({name!r}, summary='best') needs goal='minimize' or 'maximize'"
            )
        self._defs[name] = new
        self._cache.clear()
        if new.step_metric is not None:
            self.step_metrics.add(new.step_metric)
        return new

    def resolve(self, key: str) -> Metric | None:
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._defs.get(key)
        if found is None or found.is_glob:
            found = None
            for metric in reversed(list(self._defs.values())):
                if metric.is_glob and fnmatch.fnmatchcase(key, metric.name):
                    found = metric
                    break
        self._cache[key] = found
        return found

    def __bool__(self) -> bool:
        return bool(self._defs)

    def to_json(self) -> list[dict[str, Any]]:
        return [m.to_json() for m in self._defs.values()]

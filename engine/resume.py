"""What resuming, rewinding and forking do to a run's files (docs/DESIGN.md, "Resume, rewind
and fork").

Everything here runs before the run's writer starts. `rewind` changes a run's files, so the
caller holds the run's lock (engine.lock) and has recovered the run first
(`recovery.recover_owned`: no WAL is left). `copy_prefix` only reads the parent run, which
may even be live, and writes the new run the caller owns.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import kinds, segment, sources
from .convert import RunSchema
from .media_files import link_media
from .layout import RUNTIME, STEP, TIMESTAMP, RunPaths
from .union import Union

_BASE = (STEP, RUNTIME, TIMESTAMP)
_FAMILIES = ("number", "str", "list", "list_str")


# -- reading a run's durable rows ------------------------------------------------------------


def _read_segment(path: Path, columns: list[str] | None = None) -> pa.Table:
    with pq.ParquetFile(path) as pf:  # not read_table: no partition columns from the path
        return pf.read(columns=columns)


def last_row(paths: RunPaths) -> tuple[int, float] | None:
    """The `_step` and `_runtime` of a run's last durable row (WAL included), or None."""
    for part in reversed(sources.history(paths)):
        tables = [t for t in part.read([STEP, RUNTIME]) if t.num_rows]
        if tables:
            return (max(int(pc.max(t[STEP]).as_py()) for t in tables),
                    max(float(pc.max(t[RUNTIME]).as_py()) for t in tables))
    return None


def run_schema(paths: RunPaths) -> RunSchema:
    """The column kinds of a run's segments, for a writer that continues the run.

    A column typed differently in two segments (a crashed run never rewrote them) takes the
    wider kind (engine/union.py) and is marked widened, so finish() gives every segment that
    type (FORMAT.md).
    """
    schemas = [pq.read_schema(p) for p in segment.list_segments(paths.history_dir)]
    union = Union.of(schemas)
    schema = union.run_schema()
    for s in schemas:
        for f in s:
            target = union.place(f.name, f.type)
            if target in schema.columns and f.type != union.types[target]:
                schema.widened.add(target)
    return schema


@dataclass
class SummaryState:
    """What a run's history says its summary is: each key's last value, and for the keys
    asked for, (first, min, max, total, count) of its numbers (NaN left out but for first)."""

    last: dict[str, Any]
    aggregates: dict[str, tuple[float, float, float, float, int]]


def summary_state(paths: RunPaths, aggregate: Callable[[str], bool]) -> SummaryState:
    """Read the summary state back from a run's segments (recover the WAL first).

    Columns are read only where needed: each key's last value from the newest segment that
    holds one, and the whole column only for keys `aggregate` selects.
    """
    segs = segment.list_segments(paths.history_dir)
    names = [[n for n in pq.read_schema(p).names if n not in _BASE] for p in segs]
    every = {n for ns in names for n in ns}
    key_of = {n: _key_of(n, every) for n in every}

    last: dict[str, Any] = {}
    pending = set(key_of.values())
    for path, cols in zip(reversed(segs), reversed(names)):
        want = [n for n in cols if key_of[n] in pending]
        if not want:
            continue
        table = _read_segment(path, want)
        found: dict[str, tuple[int, Any]] = {}
        for name in want:
            column = table[name]
            valid = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
            key = key_of[name]
            # `loss` and its sibling `loss@str` are one key: the later row wins.
            if valid.size and (key not in found or valid[-1] > found[key][0]):
                found[key] = (int(valid[-1]), column[int(valid[-1])].as_py())
        for key, (_, value) in found.items():
            last[key] = value
            pending.discard(key)
        if not pending:
            break

    wanted = [k for k in sorted(every) if key_of[k] == k and aggregate(k)]
    acc: dict[str, list[Any]] = {}
    for path, cols in zip(segs, names):
        here = [k for k in wanted if k in cols]
        if not here:
            continue
        table = _read_segment(path, here)
        for key in here:
            column = table[key]
            if kinds.kind_of_arrow(column.type) not in (kinds.INT, kinds.FLOAT):
                continue  # as Summary.fold: bools and other kinds get no numeric aggregate
            values = np.asarray(column.drop_null().to_numpy(zero_copy_only=False), np.float64)
            if not values.size:
                continue
            a = acc.setdefault(key, [float(values[0]), math.inf, -math.inf, 0.0, 0])
            finite = values[~np.isnan(values)]
            if finite.size:
                a[1] = min(a[1], float(finite.min()))
                a[2] = max(a[2], float(finite.max()))
                a[3] += float(finite.sum())
                a[4] += int(finite.size)
    return SummaryState(last, {k: (a[0], a[1], a[2], a[3], a[4]) for k, a in acc.items()})


def _key_of(name: str, names: set[str]) -> str:
    """The logged key of a column: `loss@str` is `loss`'s sibling when `loss` exists."""
    base, sep, family = name.rpartition("@")
    return base if sep and family in _FAMILIES and base in names else name


def _without_empty(table: pa.Table) -> pa.Table:
    """Leave out columns with no value (as segments leave out never-logged keys)."""
    empty = [f.name for f in table.schema
             if f.name not in _BASE and table[f.name].null_count == table.num_rows]
    return table.drop_columns(empty) if empty else table


# -- rewinding and forking ----------------------------------------------------------------------


def rewind(paths: RunPaths, step: int, stamp: str, *, compact: bool = False,
           fsync: bool = False) -> Path | None:
    """Set aside every row after `step` in `paths.rewound_dir(stamp)`; returns that folder,
    or None if no row is after `step`. Needs the run's lock and no WAL (`recover` first).

    Whole segments after `step` are moved there, newest first, then the segment holding
    `step` is split: its later rows go there under its name, its other rows stay. At every
    point the history is a prefix of what it was, so an interrupted rewind loses no row and
    can simply be asked for again.
    """
    later: list[Path] = []
    split: Path | None = None
    for path in segment.list_segments(paths.history_dir):
        steps = _read_segment(path, [STEP])[STEP]
        if not len(steps):
            continue
        bounds = pc.min_max(steps)
        if bounds["min"].as_py() > step:
            later.append(path)
        elif bounds["max"].as_py() > step:
            split = path
    if not later and split is None:
        return None
    dest = paths.rewound_dir(stamp)
    dest.mkdir(parents=True, exist_ok=True)
    for path in reversed(later):
        shutil.move(path, dest / path.name)  # a rename: history/ and runs/ share the root
    if split is not None:
        table = _read_segment(split)
        keep = pc.less_equal(table[STEP], step)
        segment.write_segment(_without_empty(table.filter(pc.invert(keep))), dest / split.name,
                              compact=compact, fsync=fsync)
        segment.write_segment(_without_empty(table.filter(keep)), split,
                              compact=compact, fsync=fsync)
    return dest


def copy_prefix(parent: RunPaths, child: RunPaths, step: int, *, compact: bool = False,
                fsync: bool = False) -> int:
    """Write the parent's durable rows up to `step` as the child's first segments, and link
    the parent's media files into the child's files; returns the rows copied. One segment per
    parent source, so memory holds one source at a time. The parent is only read (its WAL
    too, if it is live or crashed)."""
    parts = sources.history(parent)
    union = Union.of(s for part in parts for s in part.schemas)
    schema = union.schema()  # the child's segments share one type per column from the start
    rows = seq = 0
    for part in parts:
        tables = [t for t in part.read() if t.num_rows]
        if not tables:
            continue
        table = pa.concat_tables([union.conform_table(t, schema) for t in tables])
        if pc.min(table[STEP]).as_py() > step:
            break
        table = _without_empty(table.filter(pc.less_equal(table[STEP], step)))
        segment.write_segment(table, child.segment_file(seq), compact=compact, fsync=fsync)
        seq += 1
        rows += table.num_rows
    link_media(parent.files_dir, child.files_dir)  # the copied rows' media references
    return rows

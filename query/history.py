"""One run's history as the query side sees it: fast, and in bounded memory.

What is read is a snapshot of the run's durable files (engine/sources.py): every
`history/.../part-<seq>.parquet`, and every `runs/.../wal/<seq>.arrows` not yet compacted, in
sequence (so step) order. Sources may type one column differently (an int key that later got
a float, a WAL frame written before a widening): everything is read under their union
(engine/union.py, FORMAT.md's schema-evolution rule: numbers and lists widen within their
family, struct references merge, a column of another family is read as `<key>@<family>`).
Columns that are null in every source (a key only ever logged as None) are left out, as
segments leave them out.

Memory: Parquet is read only for the columns asked for, only the row groups whose `_step`
statistics meet the step range, and by `iter_batches` one page at a time. A WAL file is read
whole (read_frames does); it holds at most about `segment_bytes`, whatever the run's length.

Sampling (`sample`): at most `samples` rows, in x-axis order, never duplicated. They always
include the first and last row and, for each numeric key, the rows holding its minimum and
its maximum within each of `samples // 2` equal-count buckets along the x axis (NaN and null
are never extremes; ties go to the earliest row), so a downsampled curve keeps its spikes.
When those rows exceed the budget, the bucket count shrinks in proportion (never below the
count that is sure to fit) until they fit; if even one bucket is too many (more keys than the
budget holds), the first and last row come first, then each key's global minimum and maximum
in key order, cut at `samples`. Budget left over is filled with evenly spaced rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from runlake.engine import sources as _sources
from runlake.engine.layout import RUNTIME, STEP, TIMESTAMP, RunPaths
from runlake.engine.sources import Part, Source
from runlake.engine.union import HISTORY_BASE, Union

from . import arrays  # numpy without pyarrow's conversions, which import pandas

BASE = (STEP, RUNTIME, TIMESTAMP)

__all__ = ["BASE", "Source", "sources", "union_schema", "read_table", "iter_batches", "wal_table",
           "sample", "sample_indices", "history_rows_with_keys"]


def sources(paths: RunPaths) -> list[Source]:
    """The run's durable files in step order: every segment, and every WAL without one."""
    return _sources.list_sources(paths.history_dir, paths.wal_dir)


def union_schema(schemas: Iterable[pa.Schema], keys: Sequence[str] | None) -> pa.Schema:
    """One schema for all `schemas` under the format's rule (engine/union.py), all-null
    columns left out; with `keys`, only the base columns and those of the keys present."""
    return Union.of(schemas, HISTORY_BASE).schema(keys)


def _plan(paths: RunPaths, keys: Sequence[str] | None) -> tuple[list[Part], Union, pa.Schema]:
    """A snapshot of the run's sources, their union, and the schema to read them under."""
    parts = _sources.history(paths)
    union = Union.of(s for part in parts for s in part.schemas)
    return parts, union, union.schema(keys)


def _row_groups(pf: pq.ParquetFile, lo: int | None, hi: int | None) -> list[int]:
    """Row groups whose `_step` statistics meet [lo, hi] (all of them without statistics)."""
    md = pf.metadata
    keep = []
    for i in range(md.num_row_groups):
        col = md.row_group(i).column(0)  # `_step` is every segment's first column
        st = col.statistics if col.path_in_schema == STEP else None
        if st is not None and st.has_min_max and (
            (lo is not None and st.max < lo) or (hi is not None and st.min > hi)
        ):
            continue
        keep.append(i)
    return keep


def _in_range(batch: pa.RecordBatch, lo: int | None, hi: int | None) -> pa.RecordBatch:
    if lo is None and hi is None:
        return batch
    step = batch.column(STEP)
    mask = pc.and_(
        pc.greater_equal(step, lo) if lo is not None else pc.is_valid(step),
        pc.less_equal(step, hi) if hi is not None else pc.is_valid(step),
    )
    return batch.filter(mask)


def _batches(
    part: Part, union: Union, schema: pa.Schema, lo: int | None, hi: int | None,
    page_size: int | None,
) -> Iterator[pa.RecordBatch]:
    """One source's rows in [lo, hi] under `schema`; by pages if `page_size`, else whole."""
    wanted = set(schema.names)
    if part.is_segment:
        with pq.ParquetFile(part.source.path, metadata=part.footer, buffer_size=1 << 20,
                            pre_buffer=False) as pf:
            have = pf.schema_arrow  # a property that converts the footer's schema each time
            columns = [f.name for f in have if union.place(f.name, f.type) in wanted]
            groups = _row_groups(pf, lo, hi)
            if not groups:
                return
            if page_size is None:
                batches: Iterable[pa.RecordBatch] = pf.read_row_groups(
                    groups, columns=columns).to_batches()
            else:
                batches = pf.iter_batches(page_size, row_groups=groups, columns=columns)
            for batch in batches:
                batch = _in_range(batch, lo, hi)
                if batch.num_rows:
                    yield union.conform(batch, schema)
    else:
        for frame in part.frames:
            columns = [f.name for f in frame.schema if union.place(f.name, f.type) in wanted]
            for batch in frame.select(columns).to_batches():
                batch = _in_range(batch, lo, hi)
                if batch.num_rows:
                    yield union.conform(batch, schema)


def read_table(
    paths: RunPaths,
    keys: Sequence[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> pa.Table:
    """Every durable row with `min_step <= _step <= max_step`, in step order, one schema.

    `keys` keeps `_step`, `_runtime`, `_timestamp` and those of the keys the run has.
    """
    parts, union, schema = _plan(paths, keys)
    batches = [b for part in parts for b in _batches(part, union, schema, min_step, max_step, None)]
    table = pa.Table.from_batches(batches, schema=schema)
    step = arrays.to_numpy(table.column(STEP))
    if len(step) > 1 and not (np.diff(step) > 0).all():  # never by the format; cheap to check
        table = table.sort_by(STEP)
    return table


def iter_batches(
    paths: RunPaths,
    keys: Sequence[str] | None = None,
    page_size: int = 1000,
    min_step: int | None = None,
    max_step: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """`read_table`'s rows streamed in step order: batches of `page_size` rows (the last may
    be shorter), all with the union schema, holding about a page and a row group in memory."""
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")
    parts, union, schema = _plan(paths, keys)
    pending: list[pa.RecordBatch] = []
    held = 0
    for part in parts:
        for batch in _batches(part, union, schema, min_step, max_step, page_size):
            while batch.num_rows:  # cut and join source batches into whole pages
                take = min(page_size - held, batch.num_rows)
                pending.append(batch.slice(0, take))
                held += take
                batch = batch.slice(take)
                if held == page_size:
                    yield _join(pending, schema)
                    pending, held = [], 0
    if held:
        yield _join(pending, schema)


def _join(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()[0]


def wal_table(paths: RunPaths, known: Collection[Path] | None = None) -> pa.Table | None:
    """The rows only in WAL files (a live or crashed run's uncompacted tail), None if none.

    `known` are segment files the caller listed before and reads itself: the rows of the
    run's segments not among them (compacted from a WAL since that listing, so no longer in
    any WAL) are returned too, or they would be in neither of the caller's two reads.
    """
    every = _sources.history(paths)
    parts = [p for p in every
             if not p.is_segment or (known is not None and p.source.path not in known)]
    # Placed under the union of every source, as the caller's segments are read, so a column
    # of another family keeps the `<key>@<family>` name it has in the whole history.
    union = Union.of(s for part in every for s in part.schemas)
    have = {union.place(f.name, f.type) for part in parts for s in part.schemas for f in s}
    schema = union.schema([n for n in union.types if n in have])
    batches = [b for part in parts for b in _batches(part, union, schema, None, None, None)]
    if not batches:
        return None
    return pa.Table.from_batches(batches, schema=schema)


# -- sampling --------------------------------------------------------------------------------


def _x_order(table: pa.Table, x_axis: str) -> np.ndarray | None:
    """Row indices in x-axis order (ties and nulls: by step, nulls last); None if as stored."""
    names = [c for c in dict.fromkeys([x_axis, STEP]) if c in table.column_names]
    if not names:
        return None
    if names[0] == STEP:
        step = table.column(STEP)
        if step.null_count == 0 and (np.diff(arrays.to_numpy(step)) >= 0).all():
            return None
    keys = [(c, "ascending") for c in names]
    return arrays.to_numpy(pc.sort_indices(table, sort_keys=keys))  # nulls sort last by default


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def _values(column: pa.ChunkedArray, order: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A column in x order as numpy, and where it holds a value (not null, not NaN)."""
    if order is not None:
        column = column.take(arrays.indices(order))
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    valid = arrays.to_numpy(column.is_valid()).copy()  # written below; a buffer's view is not
    values = arrays.to_numpy(column, nulls=True)  # what a null slot holds: `valid` is False
    if values.dtype.kind == "f":
        valid &= ~np.isnan(values)
    return values, valid


def _bucket_extremes(values: np.ndarray, valid: np.ndarray, buckets: int) -> np.ndarray:
    """Positions of the minimum, then the maximum, of each of `buckets` equal-count buckets."""
    n = len(values)
    bucket = np.arange(n, dtype=np.int64) * buckets // n
    starts = (np.arange(buckets, dtype=np.int64) * n + buckets - 1) // buckets
    if values.dtype.kind == "f":
        high, low = np.inf, -np.inf
    else:
        high, low = np.iinfo(values.dtype).max, np.iinfo(values.dtype).min
    found = []
    for reduce, fill in ((np.minimum, high), (np.maximum, low)):
        v = np.where(valid, values, fill)  # a filler never wins: `valid` is checked below
        hit = np.flatnonzero(valid & (v == reduce.reduceat(v, starts)[bucket]))
        if len(hit):  # the first hit of each bucket
            hit = hit[np.r_[True, bucket[hit[1:]] != bucket[hit[:-1]]]]
        found.append(hit)
    return np.concatenate(found)


def sample_indices(
    table: pa.Table, samples: int, keys: Sequence[str] | None = None, x_axis: str = STEP
) -> tuple[np.ndarray, int]:
    """Row indices `sample` keeps, in x order, and the bucket count whose extremes they hold
    (0: no bucket guarantee, because every row was kept or the budget was cut by key order)."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    order = _x_order(table, x_axis)
    n = table.num_rows
    if n <= samples:
        return (np.arange(n) if order is None else order), 0
    if samples == 1:  # no room for both ends: the latest row, like a summary
        chosen, buckets = np.array([n - 1]), 0
    else:
        names = table.column_names if keys is None else list(dict.fromkeys(keys))
        numeric = [
            c for c in names
            if c in table.column_names and (keys is not None or not c.startswith("_"))
            and _is_numeric(table.schema.field(c).type)
        ]
        chosen, buckets = _fit(table, order, numeric, samples)
        room = samples - len(chosen)
        if room > 0:  # spend what is left on evenly spaced rows
            spread = np.linspace(0, n - 1, room + 2).round().astype(np.int64)[1:-1]
            chosen = np.union1d(chosen, spread)
    return (chosen if order is None else order[chosen]), buckets


def _fit(
    table: pa.Table, order: np.ndarray | None, columns: list[str], samples: int
) -> tuple[np.ndarray, int]:
    n = table.num_rows
    ends = np.array([0, n - 1], dtype=np.int64)
    if not columns:
        return ends, 0
    buckets = samples // 2
    sure = max(1, (samples - 2) // (2 * len(columns)))  # 2 + 2*keys*sure rows always fit
    while True:
        found = [ends] + [
            _bucket_extremes(*_values(table.column(c), order), buckets) for c in columns
        ]
        chosen = np.unique(np.concatenate(found))
        if len(chosen) <= samples:
            return chosen, buckets
        if buckets == 1:
            break
        buckets = max(sure, min(buckets - 1, buckets * samples // len(chosen)))
    # One bucket is already too many: ends first, then each key's min and max in key order.
    ranked = np.concatenate(found)
    _, first = np.unique(ranked, return_index=True)
    return np.sort(ranked[np.sort(first)][:samples]), 0


def sample(
    table: pa.Table, samples: int, keys: Sequence[str] | None = None, x_axis: str = STEP
) -> pa.Table:
    """At most `samples` rows in x order that keep the ends and each bucket's spikes (see the
    module docstring); every row, in x order, if the table has no more than `samples`."""
    indices, _ = sample_indices(table, samples, keys, x_axis)
    return table.take(arrays.indices(indices))


def history_rows_with_keys(table: pa.Table, keys: Sequence[str], x_axis: str = STEP) -> pa.Table:
    """wandb's `history(keys=...)`: the rows where every key (and `x_axis`) has a value,
    with only `_step`, `x_axis` and the keys; empty (those columns) if a key is not in the run."""
    columns = list(dict.fromkeys([STEP, x_axis, *keys]))
    if any(c not in table.column_names for c in columns):
        return pa.table({
            c: table.column(c).slice(0, 0) if c in table.column_names else pa.nulls(0)
            for c in columns
        })
    mask = None
    for c in dict.fromkeys([x_axis, *keys]):
        present = pc.is_valid(table.column(c))  # NaN is a logged value: it counts
        mask = present if mask is None else pc.and_(mask, present)
    table = table.select(columns)
    return table if mask is None else table.filter(mask)

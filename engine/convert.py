"""Buffered chunks -> Arrow tables, under one run's evolving schema.

The schema rule (docs/FORMAT.md, "Schema evolution"):
- A column's type is set by the first non-null value of its key in the run.
- Numbers widen bool -> int64 -> float64, and list<int64> -> list<double>, when a wider one
  appears; the column takes the wider type from then on (earlier segments are rewritten at
  finish).
- A value of another family (a string under a float key, ...) is stored in the sibling
  column `<key>@<family>` (e.g. `loss@str`); nothing is dropped.
- A struct column (a media reference) takes the merge of its values' types: new fields are
  added, numbers inside widen (engine/structs.py); earlier segments are rewritten at finish.
- None is a missing value: it is null in whichever column the key has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

from . import kinds, structs
from .buffer import Chunk
from .layout import RUNTIME, STEP, TIMESTAMP

_BASE_FIELDS = [
    pa.field(STEP, pa.int64(), nullable=False),
    pa.field(RUNTIME, pa.float64(), nullable=False),
    pa.field(TIMESTAMP, pa.float64(), nullable=False),
]


class RunSchema:
    """The kind of every history column of one run so far; decides where a value goes."""

    def __init__(self, columns: dict[str, str] | None = None) -> None:
        self.columns: dict[str, str] = dict(columns or {})
        self.structs: dict[str, pa.DataType] = {}  # the Arrow type of each REF column
        self.widened: set[str] = set()
        # The store-wide owner of a key's bare column (engine/keys.py), asked for a key new to
        # the run; None: the run's own rule (readers, tests).
        self.owner: Callable[[str, str], str] | None = None

    @classmethod
    def from_arrow(cls, schema: pa.Schema) -> RunSchema:
        run = cls()
        for f in schema:
            run.absorb(f.name, f.type)
        return run

    def absorb(self, name: str, t: pa.DataType) -> None:
        """Take in a column of an existing file: its kind, widest of those seen (no `widened`)."""
        if name in (STEP, RUNTIME, TIMESTAMP) or pa.types.is_null(t):
            return
        kind = kinds.kind_of_arrow(t)
        have = self.columns.get(name)
        if have is None:
            self.columns[name] = kind
        elif kinds.family(have) == kinds.family(kind):
            self.columns[name] = kinds.wider(have, kind)
        else:
            return
        if kind == kinds.REF:
            t = structs.normalize(t)  # a segment read back names list items `element`
            old = self.structs.get(name)
            self.structs[name] = t if old is None else structs.merge(old, t)

    def struct_type(self, name: str, t: pa.DataType) -> pa.DataType:
        """The type of REF column `name` once it also holds values of type `t`."""
        old = self.structs.get(name)
        if old is None:
            self.structs[name] = t
            return t
        new = structs.merge(old, t)
        if new != old:
            self.structs[name] = new
            self.widened.add(name)
        return new

    def place(self, key: str, kind: str) -> tuple[str, str]:
        """The column name and kind a value of `kind` logged under `key` is stored as."""
        if kind == kinds.NULL:
            return key, self.columns.get(key, kinds.NULL)
        name, tries = key, 0
        if self.owner is not None and key not in self.columns:
            family = kinds.family(kind)
            if self.owner(key, family) != family:  # another run took `key` for another family
                name, tries = f"{key}@{family}", 1
        while True:
            have = self.columns.get(name)
            if have is None:
                self.columns[name] = kind
                return name, kind
            if have == kind:
                return name, kind
            if kinds.family(have) == kinds.family(kind):
                wide = kinds.wider(have, kind)
                if have != wide:
                    self.columns[name] = wide
                    self.widened.add(name)
                return name, wide
            # `key@family`; if a column of that name holds another family (a key logged by
            # a version that did not reserve the suffix), `key@@family` and so on: each try
            # is a new name, so this ends whatever columns the run has
            tries += 1
            name = f"{key}{'@' * tries}{kinds.family(kind)}"

    def arrow_type(self, name: str) -> pa.DataType:
        kind = self.columns[name]
        return self.structs[name] if kind == kinds.REF else kinds.ARROW_TYPE[kind]


def chunks_to_table(chunks: Sequence[Chunk], schema: RunSchema, start_time: float) -> pa.Table:
    """Convert buffered chunks to one table; updates `schema` with what they introduce."""
    tables = [_chunk_to_table(c, schema, start_time) for c in chunks if len(c)]
    if not tables:
        return pa.schema(_BASE_FIELDS).empty_table()
    if len(tables) == 1:
        return conform(tables[0], schema)
    return pa.concat_tables([conform(t, schema) for t in tables], promote_options="default")


def _chunk_to_table(chunk: Chunk, schema: RunSchema, start_time: float) -> pa.Table:
    n = len(chunk)
    times = np.frombuffer(chunk.times, dtype=np.float64)
    arrays = [
        kinds.from_numpy(np.frombuffer(chunk.steps, dtype=np.int64)),
        kinds.from_numpy(times - start_time),
        kinds.from_numpy(times),
    ]
    names = [STEP, RUNTIME, TIMESTAMP]
    for j, (key, kind) in enumerate(zip(chunk.keys, chunk.kinds())):
        if chunk.floats:  # a strided view of the chunk's array('d'): copy it contiguous
            array = kinds.from_numpy(chunk.column(j))
        elif kind == kinds.REF:
            column = chunk.column(j)
            name, _ = schema.place(key, kind)
            array = structs.build(column, schema.struct_type(name, structs.infer_all(column)))
            arrays.append(array)
            names.append(name)
            continue
        else:
            array, kind = kinds.to_arrow(chunk.column(j), kind)
        name, placed = schema.place(key, kind)
        if placed != kind:  # int -> float64 rounds beyond 2**53: allowed (safe=False) by the rule
            # (a None under a media key is a null of that column's struct type)
            array = array.cast(kinds.ARROW_TYPE[placed], safe=False) if kind != kinds.NULL else (
                pa.nulls(n, schema.arrow_type(name))
            )
        if name in names:  # a null and a typed value of one key in one row cannot happen
            raise AssertionError(f"column {name!r} placed twice in one chunk")
        arrays.append(array)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def conform(table: pa.Table, schema: RunSchema) -> pa.Table:
    """Cast the table's columns to the run's current kinds (after int -> float widening)."""
    fields = []
    changed = False
    for f in table.schema:
        want = f.type
        if f.name in schema.columns and schema.columns[f.name] != kinds.NULL:
            want = schema.arrow_type(f.name)
        if want != f.type:
            changed = True
        fields.append(pa.field(f.name, want, nullable=f.nullable))
    if not changed:
        return table
    # Only widening casts happen here; int64 -> float64 rounds beyond 2**53, which the schema
    # rule accepts, so the cast must not be "safe" (that refuses the whole table).
    try:
        return table.cast(pa.schema(fields), safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        # A struct field that fell back to text: structs.conform rebuilds that column.
        columns = [c if c.type == f.type else structs.conform(c, f.type)
                   for c, f in zip(table.columns, fields)]
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def drop_null_columns(table: pa.Table) -> pa.Table:
    """Parquet segments leave out all-null columns of the null type (no value was logged)."""
    drop = [f.name for f in table.schema if f.type == pa.null()]
    return table.drop_columns(drop) if drop else table

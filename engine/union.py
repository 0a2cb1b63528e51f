"""One schema for several files of a stream: the format's schema-evolution rule, read side.

A run's segments and WAL frames (or the histories of several runs, for an export) may type
one column differently. docs/FORMAT.md, "Schema evolution", says how the writer keeps a
column: its type is set by the first typed value, widens within its family (bool < int64 <
float64, list<int64> < list<float64>; a struct merges its fields by name, engine/structs.py),
and a value of another family goes to the sibling column `<key>@<family>`. Readers apply the
same rule to the files, in the order given (sequence order: the first file sets the type), so
every path that combines files (history, system metrics, export, resume) gets one answer and
nothing is dropped or coerced to text. All-null columns are left out, as segments leave them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from . import kinds, structs
from .convert import RunSchema
from .layout import PARTITION_KEYS, RUNTIME, STEP, TIMESTAMP

HISTORY_BASE = ((STEP, pa.int64()), (RUNTIME, pa.float64()), (TIMESTAMP, pa.float64()))
SYSTEM_BASE = ((TIMESTAMP, pa.float64()), (RUNTIME, pa.float64()))


def _kind(t: pa.DataType) -> str | None:
    try:
        return kinds.kind_of_arrow(t)
    except TypeError:  # not a type runlake writes (a hand-made file): compared as is
        return None


def family(t: pa.DataType) -> str:
    """The family of an Arrow type (`number`, `str`, `list`, `list_str`, `ref`, ...)."""
    kind = _kind(t)
    return kinds.family(kind) if kind is not None else str(t)


def wider(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type that holds `a`'s and `b`'s values if they are of one family, else None."""
    if a == b:
        return a
    ka, kb = _kind(a), _kind(b)
    if ka is None or kb is None or kinds.family(ka) != kinds.family(kb):
        return None
    if ka == kinds.REF:  # media references: fields merged by name
        return structs.merge(structs.normalize(a), structs.normalize(b))
    return kinds.ARROW_TYPE[kinds.wider(ka, kb)]


class Union:
    """The union of schemas added in order; `place` says where a file's column is read to."""

    def __init__(self, base: Sequence[tuple[str, pa.DataType]] = HISTORY_BASE) -> None:
        self.types: dict[str, pa.DataType] = dict(base)
        self._base = frozenset(self.types)
        # Where each (name, type) went: a column's family never changes, so neither does
        # its target once placed (the type there may still widen).
        self._placed: dict[tuple[str, pa.DataType], str | None] = {}

    @classmethod
    def of(cls, schemas: Iterable[pa.Schema],
           base: Sequence[tuple[str, pa.DataType]] = HISTORY_BASE) -> Union:
        union = cls(base)
        for schema in schemas:
            union.add(schema)
        return union

    def add(self, schema: pa.Schema) -> None:
        for f in schema:
            self.place(f.name, f.type)

    def place(self, name: str, t: pa.DataType) -> str | None:
        """The union column a column `name` of type `t` goes to (None: all null, no values),
        widening or adding it. Once every schema is added, placing again changes nothing."""
        key = (name, t)
        if key in self._placed:
            return self._placed[key]
        target = self._place(name, t)
        self._placed[key] = target
        return target

    def _place(self, name: str, t: pa.DataType) -> str | None:
        if pa.types.is_null(t):
            return None
        if name in self._base:
            return name  # `_step` & co. keep their documented types
        target = name
        while True:
            have = self.types.get(target)
            if have is None:
                self.types[target] = t
                return target
            wide = wider(have, t)
            if wide is not None:
                self.types[target] = wide
                return target
            target = f"{target}@{family(t)}"  # another family: the sibling column

    def schema(self, keys: Sequence[str] | None = None) -> pa.Schema:
        """The union schema; with `keys`, the base columns and those of `keys` present."""
        names = list(self.types) if keys is None else [
            *self._base_names(), *(k for k in dict.fromkeys(keys)
                                   if k in self.types and k not in self._base)]
        return pa.schema([(n, self.types[n]) for n in names])

    def _base_names(self) -> list[str]:
        return [n for n in self.types if n in self._base]

    def conform(self, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
        """`batch` (of a file added before) under `schema` (from `self.schema()`): each
        column moved to its union column and widened; columns not in `schema` dropped."""
        if batch.schema.equals(schema):
            return batch  # the common case: a file already of the union's types
        n = batch.num_rows
        found: dict[str, pa.Array] = {}
        for f, column in zip(batch.schema, batch.columns):
            target = self.place(f.name, f.type)
            i = -1 if target is None else schema.get_field_index(target)
            if i < 0:
                continue
            column = cast(column, schema.field(i).type)
            # Two columns of one file may meet in one union column only in files runlake
            # did not write (`loss@number` beside a numeric `loss`): keep the first value.
            found[target] = column if target not in found else pc.coalesce(found[target], column)
        arrays = [found[f.name] if f.name in found else pa.nulls(n, f.type) for f in schema]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def conform_table(self, table: pa.Table, schema: pa.Schema) -> pa.Table:
        if table.schema.equals(schema):
            return table
        batches = [self.conform(b, schema) for b in table.to_batches()]
        return pa.Table.from_batches(batches, schema=schema)

    def run_schema(self) -> RunSchema:
        """The union as a writer's RunSchema (kinds, struct types), for one continuing the run."""
        run = RunSchema()
        for name, t in self.types.items():
            run.absorb(name, t)
        return run


def cast(column: pa.Array, t: pa.DataType) -> pa.Array:
    """A column widened to `t`. int64 -> float64 rounds beyond 2**53, which the rule accepts,
    so the cast is not "safe"; a struct field that fell back to JSON text is rebuilt."""
    if column.type == t:
        return column
    try:
        return column.cast(t, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return structs.conform(column, t)


def combine(tables: Sequence[pa.Table],
            base: Sequence[tuple[str, pa.DataType]] = HISTORY_BASE) -> pa.Table:
    """Tables (of files in sequence order) as one table under their union."""
    union = Union.of((t.schema for t in tables), base)
    schema = union.schema()
    return pa.concat_tables([union.conform_table(t, schema) for t in runs(tables)])


def runs(tables: Sequence[pa.Table]) -> list[pa.Table]:
    """Consecutive tables of one schema joined (WAL frames are often one row each), so
    they are conformed once, not once per frame."""
    out: list[pa.Table] = []
    group: list[pa.Table] = []
    for t in tables:
        if group and not t.schema.equals(group[0].schema):
            out.append(pa.concat_tables(group))
            group = []
        group.append(t)
    if group:
        out.append(pa.concat_tables(group))
    return out


def store_renames(schemas: Sequence[pa.Schema],
                  claimed: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """For the files of many runs (one schema each): which columns each reads under another
    name, so that every name holds one family across the store and no column hides behind a
    partition column. Stores written since key families are store-wide need none.

    Runs written before `keys/claims.jsonl` may disagree (`lr` a float in one, a list in
    another; `Loss` a float, `loss` a string: SQL engines fold case). A name's family is its
    claimed one (`claimed`: lower-cased key -> family), else the family most schemas hold
    (the first seen on a tie); a column of another family is read as `<name>@<family>`, as
    the writer would have stored it. A column named entity, project or run_id (any case)
    is read as `<name>@key`.
    """
    def own_name(name: str) -> str:
        return f"{name}@key" if name.lower() in PARTITION_KEYS else name

    counts: dict[str, Counter[str]] = {}
    for schema in schemas:
        for f in schema:
            if not pa.types.is_null(f.type) and f.name not in _BASE_NAMES:
                counts.setdefault(own_name(f.name).lower(), Counter())[family(f.type)] += 1
    claimed = claimed or {}

    def owner(lower: str, fam: str) -> str:
        found = claimed.get(lower)
        if found is None:
            c = counts.get(lower)
            found = c.most_common(1)[0][0] if c else fam  # most_common keeps first-seen ties
        return found

    out: list[dict[str, str]] = []
    for schema in schemas:
        taken = {n.lower() for n in schema.names}
        renames: dict[str, str] = {}
        for f in schema:
            if f.name in _BASE_NAMES or pa.types.is_null(f.type):
                continue
            fam = family(f.type)
            target = own_name(f.name)
            if owner(target.lower(), fam) != fam:
                target = f"{target}@{fam}"
            if target == f.name:
                continue
            # Longer on each turn, so it ends: past every name the store has, nothing is taken.
            while target.lower() in taken or (target.lower() in counts
                                              and owner(target.lower(), fam) != fam):
                target = f"{target}@{fam}"
            taken.add(target.lower())
            renames[f.name] = target
        out.append(renames)
    return out


def renamed(schema: pa.Schema, renames: Mapping[str, str]) -> pa.Schema:
    """`schema` with the columns of `renames` under their new names."""
    if not renames:
        return schema
    return pa.schema([f.with_name(renames.get(f.name, f.name)) for f in schema])


_BASE_NAMES = frozenset(name for name, _ in HISTORY_BASE)

"""Struct columns: JSON-like dicts (typed references to media files) as Arrow structs.

A struct value is a `kinds.Ref` (a dict) whose values are None, bools, ints, floats, strings,
lists of these, dicts, or lists of dicts. Its Arrow type is inferred from the values, and a
column's type is the merge of every type it was given (docs/FORMAT.md, "Media"):

- a field missing or None in a value is null there; a field that is None in every value of a
  column has no Arrow field yet (it gets one when a value comes);
- bool < int64 < float64 widen as top-level numbers do; lists merge their items, structs
  merge their fields by name (new fields are appended);
- anything else (a string beside a number in one field) becomes a string field holding
  the value's JSON text: one column keeps every value, nothing is dropped.

Arrays are built from buffers, never with `pa.array` (which imports pandas in the writer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from . import kinds

_NULL = pa.null()
_BOOL, _INT, _FLOAT, _STR = pa.bool_(), pa.int64(), pa.float64(), pa.large_string()
_NUMBER_RANK = {_BOOL: 0, _INT: 1, _FLOAT: 2}


def infer(value: object) -> pa.DataType:
    """The Arrow type of one JSON-like value (null for None)."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT if -(2**63) <= value < 2**63 else _FLOAT
    if isinstance(value, float):
        return _FLOAT
    if isinstance(value, str):
        return _STR
    if isinstance(value, dict):
        return _struct({str(k): infer(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        item = _NULL
        for x in value:
            item = merge(item, infer(x))
        return pa.list_(item)
    return _STR  # anything else is kept as its JSON text (see `_text`)


def infer_all(values: Sequence[object]) -> pa.DataType:
    """The merged type of a column's values; null-only fields are left out."""
    t = _NULL
    for v in values:
        t = merge(t, infer(v))
    return prune(t)


def merge(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The narrowest type holding values of both `a` and `b` (the module's rules)."""
    if a == b:
        return a
    if a == _NULL:
        return b
    if b == _NULL:
        return a
    if a in _NUMBER_RANK and b in _NUMBER_RANK:
        return a if _NUMBER_RANK[a] >= _NUMBER_RANK[b] else b
    if pa.types.is_list(a) and pa.types.is_list(b):
        return pa.list_(merge(a.value_type, b.value_type))
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        fields = {f.name: f.type for f in a}
        for f in b:
            fields[f.name] = merge(fields[f.name], f.type) if f.name in fields else f.type
        return _struct(fields)
    return _STR


def prune(t: pa.DataType) -> pa.DataType:
    """`t` without null-typed struct fields (nothing to store for them yet)."""
    if pa.types.is_struct(t):
        return _struct({f.name: prune(f.type) for f in t if f.type != _NULL})
    if pa.types.is_list(t):
        return pa.list_(prune(t.value_type))
    return t


def normalize(t: pa.DataType) -> pa.DataType:
    """`t` with Arrow's default list item names: Parquet readers name them `element`, and
    list types that differ only by that name compare unequal."""
    if pa.types.is_struct(t):
        return _struct({f.name: normalize(f.type) for f in t})
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(normalize(t.value_type))
    return t


def _struct(fields: dict[str, pa.DataType]) -> pa.DataType:
    return pa.struct([pa.field(name, t) for name, t in fields.items()])


def build(values: Sequence[object], t: pa.DataType) -> pa.Array:
    """The values (None allowed anywhere) as an Arrow array of type `t`, which holds them."""
    n = len(values)
    if t == _NULL:
        return pa.nulls(n)
    nulls = np.fromiter((v is None for v in values), dtype=np.bool_, count=n)
    if pa.types.is_struct(t):
        children = [build([None if v is None else _get(v, f.name) for v in values], f.type)
                    for f in t]
        mask = kinds.from_numpy(nulls) if nulls.any() else None
        return pa.StructArray.from_arrays(children, fields=list(t), mask=mask)
    if pa.types.is_list(t):
        sizes = np.fromiter((0 if v is None else len(v) for v in values), dtype=np.int32, count=n)
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(sizes, out=offsets[1:])
        items = [x for v in values if v is not None for x in v]
        child = build(items, t.value_type)
        mask = kinds.from_numpy(nulls) if nulls.any() else None
        return pa.ListArray.from_arrays(kinds.from_numpy(offsets), child, mask=mask)
    some = nulls if nulls.any() else None
    if t == _STR:
        return kinds._flat([v if v is None or isinstance(v, str) else _text(v) for v in values],
                           kinds.STR, some)[0]
    kind = {_BOOL: kinds.BOOL, _INT: kinds.INT, _FLOAT: kinds.FLOAT}[t]
    if kind == kinds.FLOAT:
        values = [None if v is None else float(v) for v in values]  # type: ignore[arg-type]
    array, got = kinds._flat(values, kind, some)
    return array if got == kind else array.cast(t, safe=False)


def _get(value: object, name: str) -> object:
    return value.get(name) if isinstance(value, dict) else None


def _text(value: object) -> str:
    """A value of another type in a string field: its JSON text (or str() if not JSON-able)."""
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return str(value)


def conform(array: pa.Array | pa.ChunkedArray, t: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """An array of an older (narrower) type as type `t`: new fields null, numbers widened."""
    if array.type == t:
        return array
    try:
        return array.cast(t, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        # A field that became a string (the JSON fallback): rebuild from Python values.
        values = array.to_pylist()
        return build(values, t)

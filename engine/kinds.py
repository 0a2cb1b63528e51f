"""Value kinds: which Python types a history column can hold, and how a column becomes Arrow.

A buffered row keeps the caller's values as they are (floats, ints, numpy scalars...); the
type of each value decides its *kind*, and a kind decides the Arrow type. Lists are wrapped in
the tuple subclasses below by the caller's normaliser, so a raw list can never be mistaken
for a checked one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

BOOL, INT, FLOAT, STR, NULL = "bool", "int", "float", "str", "null"
LIST_INT, LIST_FLOAT, LIST_STR = "list_int", "list_float", "list_str"
REF = "ref"  # a struct: a media value's typed reference (engine/structs.py)


class IntList(tuple):
    """A checked list of ints (and None)."""

    __slots__ = ()


class FloatList(tuple):
    """A checked list of numbers with at least one float (and None)."""

    __slots__ = ()


class StrList(tuple):
    """A checked list of strings (and None)."""

    __slots__ = ()


class Ref(dict):
    """A checked struct value: a JSON-like dict, stored as an Arrow struct (engine/structs.py)."""

    __slots__ = ()


KIND_OF_TYPE: dict[type, str] = {
    bool: BOOL,
    np.bool_: BOOL,
    int: INT,
    float: FLOAT,
    str: STR,
    np.str_: STR,
    type(None): NULL,
    IntList: LIST_INT,
    FloatList: LIST_FLOAT,
    StrList: LIST_STR,
    Ref: REF,
}
for _t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
    KIND_OF_TYPE[_t] = INT
for _t in (np.float16, np.float32, np.float64, np.longdouble):
    KIND_OF_TYPE[_t] = FLOAT

ARROW_TYPE = {
    BOOL: pa.bool_(),
    INT: pa.int64(),
    FLOAT: pa.float64(),
    STR: pa.large_string(),
    NULL: pa.null(),
    LIST_INT: pa.list_(pa.int64()),
    LIST_FLOAT: pa.list_(pa.float64()),
    LIST_STR: pa.list_(pa.large_string()),
}

# Kinds of one family share a column, which takes the widest kind logged so far:
# bool < int < float (as in Python, True == 1) and list<int> < list<float>; a struct column's
# type is the merge of its values' types (engine/structs.py, not in ARROW_TYPE). Kinds of
# different families never share one (see convert.RunSchema).
FAMILY = {
    BOOL: "number", INT: "number", FLOAT: "number", STR: "str",
    LIST_INT: "list", LIST_FLOAT: "list", LIST_STR: "list_str", NULL: "null", REF: "ref",
}
_RANK = {BOOL: 0, INT: 1, FLOAT: 2, LIST_INT: 0, LIST_FLOAT: 1}

_NUMPY_DTYPE = {BOOL: np.bool_, INT: np.int64, FLOAT: np.float64}
_ARROW_OF_DTYPE = {
    np.dtype(np.float64): pa.float64(), np.dtype(np.int64): pa.int64(),
    np.dtype(np.int32): pa.int32(),
}


def family(kind: str) -> str:
    return FAMILY[kind]


def wider(a: str, b: str) -> str:
    """The wider of two kinds of one family."""
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


def kind_of_arrow(t: pa.DataType) -> str:
    for kind, arrow_type in ARROW_TYPE.items():
        if t == arrow_type:
            return kind
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return STR
    if pa.types.is_integer(t):
        return INT
    if pa.types.is_floating(t):
        return FLOAT
    if pa.types.is_struct(t):
        return REF
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = kind_of_arrow(t.value_type)
        return {INT: LIST_INT, FLOAT: LIST_FLOAT, STR: LIST_STR}.get(inner, LIST_STR)
    raise TypeError(f"no runlake kind for Arrow type {t}")


def to_arrow(values: Sequence[object], kind: str) -> tuple[pa.Array, str]:
    """Build the Arrow array of one column whose values all have the given kind (not REF:
    a struct column's type depends on the run's earlier values, so convert.py builds it with
    structs.build).

    Returns the array and its kind, which differs from `kind` only when ints overflow int64:
    they are then stored as float64 (and, beyond float range, as strings) rather than lost.
    """
    if kind == NULL:
        return pa.nulls(len(values)), NULL
    if kind in (LIST_INT, LIST_FLOAT, LIST_STR):
        return _lists(values, kind)
    return _flat(values, kind)


def from_numpy(array: np.ndarray) -> pa.Array:
    """A contiguous 1-d bool/int64/float64 numpy array as Arrow, sharing its memory.

    Arrays are built from buffers rather than with `pa.array`, which imports pandas on first
    use: half a second and ~50 MB, in the writer thread that shares the GIL with training.
    """
    array = np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        bits = np.packbits(array, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(array), [None, pa.py_buffer(bits)])
    arrow_type = _ARROW_OF_DTYPE[array.dtype]
    return pa.Array.from_buffers(arrow_type, len(array), [None, pa.py_buffer(array)])


def _flat(values: Sequence[object], kind: str, nulls: np.ndarray | None = None) -> tuple[pa.Array, str]:
    """Scalars of one kind (None only where `nulls` says) as an Arrow array."""
    n = len(values)
    validity = None if nulls is None or not nulls.any() else pa.py_buffer(
        np.packbits(~nulls, bitorder="little")
    )
    if kind == STR:
        data = [v.encode("utf-8", "backslashreplace") if v is not None else b"" for v in values]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, data), dtype=np.int64, count=n), out=offsets[1:])
        buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
        return pa.Array.from_buffers(pa.large_string(), n, buffers), STR
    if nulls is not None:
        values = [0 if v is None else v for v in values]
    try:
        array = np.fromiter(values, dtype=_NUMPY_DTYPE[kind], count=n)
    except OverflowError:
        if kind != INT:
            raise
        try:
            array, kind = np.fromiter(values, dtype=np.float64, count=n), FLOAT
        except OverflowError:
            return _flat([None if m else str(v) for v, m in zip(values, _or_false(nulls, n))],
                         STR, nulls)
    arrow = from_numpy(array)
    if validity is not None:
        arrow = pa.Array.from_buffers(arrow.type, n, [validity, arrow.buffers()[1]])
    return arrow, kind


def _or_false(nulls: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.bool_) if nulls is None else nulls


def _lists(values: Sequence[Sequence[object]], kind: str) -> tuple[pa.Array, str]:
    """Typed list values (IntList/FloatList/StrList, None allowed inside) as a list array."""
    n = len(values)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int32, count=n), out=offsets[1:])
    items = [x for v in values for x in v]
    nulls = np.fromiter((x is None for x in items), dtype=np.bool_, count=len(items))
    inner = {LIST_INT: INT, LIST_FLOAT: FLOAT, LIST_STR: STR}[kind]
    if inner == FLOAT:
        items = [None if x is None else float(x) for x in items]
    child, child_kind = _flat(items, inner, nulls if nulls.any() else None)
    if child_kind == FLOAT and child.type != pa.float64():
        child = child.cast(pa.float64())
    list_kind = {INT: LIST_INT, FLOAT: LIST_FLOAT, STR: LIST_STR}[child_kind]
    return pa.ListArray.from_arrays(from_numpy(offsets), child), list_kind

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


class IntList(tuple):
    """A checked list of ints (and None)."""

    __slots__ = ()


class FloatList(tuple):
    """A checked list of numbers with at least one float (and None)."""

    __slots__ = ()


class StrList(tuple):
    """A checked list of strings (and None)."""

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

# Kinds that widen into another without losing a value: int -> float, list_int -> list_float.
WIDER = {INT: FLOAT, LIST_INT: LIST_FLOAT}

_NUMPY_DTYPE = {BOOL: np.bool_, INT: np.int64, FLOAT: np.float64}


def family(kind: str) -> str:
    """The promotion family of a kind: kinds of one family share a column."""
    return WIDER.get(kind, kind)


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
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = kind_of_arrow(t.value_type)
        return {INT: LIST_INT, FLOAT: LIST_FLOAT, STR: LIST_STR}.get(inner, LIST_STR)
    raise TypeError(f"no runlake kind for Arrow type {t}")


def to_arrow(values: Sequence[object], kind: str) -> tuple[pa.Array, str]:
    """Build the Arrow array of one column whose values all have the given kind.

    Returns the array and its kind, which differs from `kind` only when ints overflow int64:
    they are then stored as float64 (and, beyond float range, as strings) rather than lost.
    """
    dtype = _NUMPY_DTYPE.get(kind)
    if dtype is not None:
        try:
            return pa.array(np.fromiter(values, dtype=dtype, count=len(values))), kind
        except OverflowError:
            if kind != INT:
                raise
        try:
            return pa.array(np.fromiter(values, dtype=np.float64, count=len(values))), FLOAT
        except OverflowError:
            return pa.array([str(v) for v in values], pa.large_string()), STR
    if kind == NULL:
        return pa.nulls(len(values)), NULL
    if kind == STR:
        return pa.array(values, pa.large_string()), STR
    if kind == LIST_INT:
        try:
            return pa.array(values, ARROW_TYPE[LIST_INT]), LIST_INT
        except OverflowError:
            pass
        # pyarrow refuses ints beyond int64 even for a double list: convert them here.
        try:
            floats = [[None if x is None else float(x) for x in v] for v in values]
            return pa.array(floats, ARROW_TYPE[LIST_FLOAT]), LIST_FLOAT
        except OverflowError:
            strs = [[None if x is None else str(x) for x in v] for v in values]
            return pa.array(strs, ARROW_TYPE[LIST_STR]), LIST_STR
    return pa.array(values, ARROW_TYPE[kind]), kind


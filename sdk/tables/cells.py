"""What a Table cell may hold, and a column of cells as Arrow (sdk/tables/table.py's storage side).

Each cell has a kind: `number` (ints and floats, numpy's too), `bool`, `str`, `list` (lists,
tuples, numpy arrays), `dict`, `timestamp` (dates, datetimes), `media:<Class>`, or `none`.
A column of one kind becomes one Arrow type; a column of several (allow_mixed_types), or a
list/dict column Arrow cannot type, becomes JSON text and is recorded as kind `json`.
"""

from __future__ import annotations

import datetime
import json
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from runlake.errors import InvalidValueError

from runlake.media.base import Media, MediaContext

# Parquet key-value metadata naming each column's kind, so a reader can tell a JSON-text
# column (mixed kinds) from a string one.
META_KEY = b"runlake.table"
NONE = "none"

_FAMILY_CACHE: dict[type, str | None] = {type(None): NONE}
_DTYPE_FAMILY = {
    int: "number", float: "number", bool: "bool", str: "str", list: "list", tuple: "list",
    np.ndarray: "list", dict: "dict", datetime.datetime: "timestamp", datetime.date: "timestamp",
}


def family_of(tp: type) -> str | None:
    """The kind of value a cell of type `tp` is, or None when a Table cannot hold it."""
    try:
        return _FAMILY_CACHE[tp]
    except KeyError:
        pass
    family: str | None
    if issubclass(tp, Media):
        family = f"media:{tp.__name__}"
    elif issubclass(tp, (bool, np.bool_)):
        family = "bool"
    elif issubclass(tp, (numbers.Integral, numbers.Real)):  # numpy ints and floats included
        family = "number"
    elif issubclass(tp, str):
        family = "str"
    elif issubclass(tp, (list, tuple, np.ndarray)):
        family = "list"
    elif issubclass(tp, Mapping):
        family = "dict"
    elif issubclass(tp, datetime.date):
        family = "timestamp"
    else:
        family = None
    _FAMILY_CACHE[tp] = family
    return family


def dtype_family(column: str, dtype: Any) -> str | None:
    """The kind a `dtype=` type declares for a column (None: inferred from the cells)."""
    if dtype is None:
        return None
    if isinstance(dtype, type):
        family = _DTYPE_FAMILY.get(dtype) or family_of(dtype)
        if family is not None and family != NONE:
            return family
    raise InvalidValueError(
        f"dtype for column {column!r} must be a type such as int, float, str, bool, list, dict, "
        f"datetime or a media class (runlake.Image); got {dtype!r}"
    )


def arrow_column(name: str, cells: list[Any], family: str | None, mixed: bool,
                 ctx: MediaContext | None) -> tuple[pa.Array, str]:
    """Column `name`'s cells as Arrow, and the kind recorded for it in the file."""
    if mixed:
        return pa.array([json_cell(v, ctx, name) for v in cells], pa.string()), "json"
    try:
        if family is None:
            return pa.nulls(len(cells)), NONE
        if family == "number":
            return _numbers(cells), family
        if family == "bool":
            return pa.array(cells, pa.bool_()), family
        if family == "str":
            return pa.array(cells, pa.string()), family
        if family == "timestamp":
            return pa.array(cells), family
        if family.startswith("media:"):
            if ctx is None:
                raise InvalidValueError(
                    f"Table column {name!r} holds media: it is stored when the table is logged"
                )
            return pa.array([None if v is None else ctx.store(v) for v in cells]), family
        values = [v.tolist() if isinstance(v, np.ndarray) else v for v in cells]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidValueError(f"Table column {name!r} cannot be stored: {exc}") from None
    try:  # lists and dicts: Arrow lists/structs when their items agree, else JSON text
        return pa.array(values), family
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return pa.array([json_cell(v, ctx, name) for v in cells], pa.string()), "json"


def _numbers(cells: list[Any]) -> pa.Array:
    # ints stay int64 unless a float (or an int beyond int64) is in the column, as in history
    if all(issubclass(t, numbers.Integral) or t is type(None) for t in set(map(type, cells))):
        try:
            return pa.array(cells, pa.int64())
        except (OverflowError, pa.ArrowInvalid):
            pass
    try:
        return pa.array(cells, pa.float64())
    except (OverflowError, pa.ArrowInvalid):  # an int beyond int64 among them
        return pa.array([None if v is None else float(v) for v in cells], pa.float64())


def json_cell(value: Any, ctx: MediaContext | None, column: str) -> str | None:
    if value is None:
        return None

    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, datetime.date):
            return o.isoformat()
        if isinstance(o, Media) and ctx is not None:
            return ctx.store(o)
        raise InvalidValueError(f"Table column {column!r}: a {type(o).__name__} cannot be stored")

    return json.dumps(value, default=default, allow_nan=True)

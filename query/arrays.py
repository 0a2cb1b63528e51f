"""Arrow to numpy, and Arrow arrays made, without pyarrow's Python conversions.

pyarrow converts through code that imports pandas when it is installed (`to_numpy`,
`pa.array` of Python values, `pa.scalar`, `Table.group_by`): 0.5 s or more on the first read
of a process that never asked for pandas. The read side's hot paths use these instead; each
falls back to pyarrow where it must (nulls, other types), which is then a user's own data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def to_numpy(column: pa.Array | pa.ChunkedArray, nulls: bool = False) -> np.ndarray:
    """`column.to_numpy()` for numbers and booleans without nulls, from the buffers; with
    `nulls`, also of a column with nulls, whose slots then hold whatever the buffer does."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    dtype = _dtype(column.type)
    if dtype is None or (column.null_count and not nulls):
        return column.to_numpy() if isinstance(column, pa.ChunkedArray) else \
            column.to_numpy(zero_copy_only=False)
    parts = [_chunk(c, dtype) for c in chunks if len(c)]
    if not parts:
        return np.empty(0, dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _dtype(t: pa.DataType) -> np.dtype | None:
    if pa.types.is_boolean(t):
        return np.dtype(bool)
    if pa.types.is_integer(t):
        return np.dtype(f"{'i' if pa.types.is_signed_integer(t) else 'u'}{t.bit_width // 8}")
    if pa.types.is_float32(t) or pa.types.is_float64(t):
        return np.dtype(f"f{t.bit_width // 8}")
    return None


def _chunk(a: pa.Array, dtype: np.dtype) -> np.ndarray:
    data = a.buffers()[1]
    if data is None:  # all null
        return np.zeros(len(a), dtype)
    if dtype == np.dtype(bool):
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        return bits[a.offset:a.offset + len(a)].astype(bool)
    return np.frombuffer(data, dtype, count=len(a), offset=a.offset * dtype.itemsize)


def repeat(value: str, n: int) -> pa.Array:
    """`pa.array([value] * n, pa.string())`, from buffers."""
    encoded = value.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int32) * len(encoded)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(encoded * n)])


def indices(values: np.ndarray) -> pa.Array:
    """Row positions (a numpy integer array) as an int64 Arrow array for `take`, from buffers."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])

"""`runlake.Table`: rows of scalars and media, logged as one Parquet file (wandb's `Table`).

    >>> import runlake
    >>> t = runlake.Table(columns=["id", "label", "score"], data=[[1, "cat", 0.9]])
    >>> t.add_data(2, "dog", 0.4)
    >>> t.get_column("score")
    [0.9, 0.4]

Cells are kept column by column (a list per column), so logging a large table is one
`pa.array` per column and type checks are one `set(map(type, column))`: both run in C. Each
column holds one kind of value (wandb's rule; `allow_mixed_types=True` lifts it): numbers
(int and float together), bools, strings, lists/arrays, dicts, datetimes, or one media class.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from runlake.errors import InvalidNameError, InvalidValueError, MissingExtraError

from runlake.tables.cells import META_KEY, NONE, arrow_column, dtype_family, family_of
from runlake.media.base import Media, MediaContext

def _per_column(name: str, value: Any, n: int, kind: type | tuple[type, ...]) -> list[Any]:
    """A single value for every column, or a list with one per column."""
    if isinstance(value, list):
        if len(value) != n:
            raise InvalidValueError(f"{name} has {len(value)} entries but the table has {n} columns")
        return list(value)
    if value is not None and not isinstance(value, kind):
        raise InvalidValueError(f"{name} must be a {kind} or a list of them, got {value!r}")
    return [value] * n


def _check_column_name(name: Any, existing: Sequence[str]) -> str:
    if not isinstance(name, str):
        raise InvalidNameError(
            f"Table column names must be strings; got {type(name).__name__} {name!r}: use str()"
        )
    if name in existing:
        raise InvalidNameError(f"Table already has a column named {name!r}")
    return name


def _is_dataframe(value: Any) -> bool:
    module = type(value).__module__
    return type(value).__name__ == "DataFrame" and module.split(".")[0] in ("pandas", "polars")


def _dataframe_columns(df: Any) -> tuple[list[str], list[list[Any]]]:
    names = [str(c) if not isinstance(c, str) else c for c in df.columns]
    if type(df).__module__.startswith("polars"):
        return names, [df.get_column(c).to_list() for c in df.columns]
    cells = []
    for c in df.columns:  # pandas: tolist() gives Python scalars; missing values become None
        series = df[c]
        values = series.tolist()
        if series.dtype.kind not in "biuf":  # NaN stays a number in a float column
            values = [None if na else v for v, na in zip(values, series.isna().tolist())]
        cells.append(values)
    return names, cells


class Table(Media):
    """A table of rows, each cell a number, bool, string, list/array, dict, datetime, None
    or a media value (`runlake.Image`, ...). Logged as a Parquet file; see docs/FORMAT.md.

    `columns` default to wandb's ["Input", "Output", "Expected"]; `data` (or `rows`) is a
    list of rows or a 2-D numpy array; `dataframe` (pandas or polars) takes its columns and
    rows. `dtype` (a type, or one per column) and `optional` (None allowed; a bool or one per
    column) constrain the columns; `allow_mixed_types=True` lets a column mix kinds, stored
    as JSON text.
    """

    _log_type = "table-file"
    _folder = "tables"

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: bool | list[bool] = True,
        allow_mixed_types: bool = False,
    ) -> None:
        self._allow_mixed = bool(allow_mixed_types)
        if dataframe is None and _is_dataframe(data):
            dataframe, data = data, None
        if dataframe is not None:
            if not _is_dataframe(dataframe):
                raise InvalidValueError(
                    f"dataframe must be a pandas or polars DataFrame, got {type(dataframe).__name__}"
                )
            columns, cells = _dataframe_columns(dataframe)
        else:
            data = data if data is not None else rows
            columns = ["Input", "Output", "Expected"] if columns is None else list(columns)
            cells = self._transpose(data, len(columns), columns)
        self._columns: list[str] = []
        for name in columns:
            self._columns.append(_check_column_name(name, self._columns))
        n = len(self._columns)
        dtypes = dtype if isinstance(dtype, list) else [dtype] * n
        if len(dtypes) != n:
            raise InvalidValueError(f"dtype has {len(dtypes)} entries but the table has {n} columns")
        self._family: list[str | None] = [dtype_family(c, d) for c, d in zip(self._columns, dtypes)]
        self._declared = [f is not None for f in self._family]
        self._optional = [bool(o) for o in _per_column("optional", optional, n, bool)]
        self._seen: list[set[str]] = [set() for _ in range(n)]  # kinds, with allow_mixed_types
        # Cell types each column has taken under its current rules: a row of such types
        # needs no check (add_data's fast path).
        self._accepted: list[set[type]] = [set() for _ in range(n)]
        self._cells: list[list[Any]] = [[] for _ in range(n)]
        self._nrows = 0
        if cells and cells[0]:
            self._extend(cells)

    @staticmethod
    def _transpose(data: Any, n: int, columns: Sequence[str]) -> list[list[Any]]:
        if data is None:
            return []
        if isinstance(data, np.ndarray):
            if data.ndim != 2:
                raise InvalidValueError(
                    f"Table data as a numpy array must be 2-D (rows x columns), got shape {data.shape}"
                )
            data = list(data)
        if not isinstance(data, (list, tuple)):
            raise InvalidValueError(
                f"Table data must be a list of rows or a 2-D numpy array, got {type(data).__name__}"
            )
        try:
            lengths = set(map(len, data))
        except TypeError:
            bad = next(r for r in data if not hasattr(r, "__len__"))
            raise InvalidValueError(
                f"each row of Table data must be a list of {n} values, got {type(bad).__name__}"
            ) from None
        if lengths - {n}:
            i = next(i for i, r in enumerate(data) if len(r) != n)
            raise InvalidValueError(
                f"row {i} has {len(data[i])} values but the table has {n} columns "
                f"{list(columns)}: pass columns=[...] naming each value"
            )
        return [list(c) for c in zip(*data)] if data else [[] for _ in range(n)]

    # -- type checks -------------------------------------------------------------------------

    def _admit(self, j: int, types: set[type]) -> tuple[str | None, set[str]]:
        """Check that values of `types` may go to column j; its kind afterwards (not stored)."""
        name = self._columns[j]
        kinds: set[str] = set()
        for tp in types:
            kind = family_of(tp)
            if kind is None:
                raise InvalidValueError(
                    f"Table column {name!r} got a {tp.__module__}.{tp.__qualname__}: a cell holds a "
                    "number, bool, str, list, numpy array, dict, datetime, None or a media value "
                    "such as runlake.Image; convert it (str(), .tolist(), ...)"
                )
            kinds.add(kind)
        if NONE in kinds:
            kinds.discard(NONE)
            if not self._optional[j]:
                raise InvalidValueError(
                    f"Table column {name!r} is not optional and got None: pass a value, or "
                    "optional=True for that column"
                )
        family = self._family[j]
        if self._declared[j] and kinds - {family}:
            got = sorted(kinds - {family})
            raise InvalidValueError(
                f"Table column {name!r} has dtype {family} and got {', '.join(got)} values: "
                "convert them, or change dtype"
            )
        if self._allow_mixed:
            seen = self._seen[j] | kinds | ({family} if family else set())
            return family or (min(seen) if seen else None), seen
        known = kinds | ({family} if family else set())
        if len(known) > 1:
            raise InvalidValueError(
                f"Table column {name!r} would mix {' and '.join(sorted(known))} values: a column "
                "keeps one kind (ints and floats are both numbers); convert the values, or pass "
                "allow_mixed_types=True (mixed columns are stored as JSON text)"
            )
        return (known.pop() if known else None), set()

    def _extend(self, columns: list[list[Any]]) -> None:
        """Append whole columns of equal length, all checked before any is changed."""
        types = [set(map(type, col)) for col in columns]
        admitted = [self._admit(j, t) for j, t in enumerate(types)]
        for j, (col, (family, seen)) in enumerate(zip(columns, admitted)):
            self._family[j], self._seen[j] = family, seen
            self._cells[j].extend(col)
            self._accepted[j] |= types[j]
        self._nrows += len(columns[0]) if columns else 0

    # -- wandb's API -------------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def data(self) -> list[list[Any]]:
        """The rows, as lists (a copy: change the table with add_data / add_column)."""
        return [list(row) for row in zip(*self._cells)] if self._cells else []

    def add_data(self, *data: Any) -> None:
        """Append one row; its values go to the columns in order.

        >>> t = Table(columns=["a", "b"]); t.add_data(1, "x"); t.data
        [[1, 'x']]
        """
        if len(data) != len(self._columns):
            raise InvalidValueError(
                f"add_data() got {len(data)} values but the table has {len(self._columns)} "
                f"columns {self._columns}"
            )
        if all(type(v) in ok for v, ok in zip(data, self._accepted)):
            for cells, v in zip(self._cells, data):
                cells.append(v)
            self._nrows += 1
            return
        self._extend([[v] for v in data])

    def add_column(self, name: str, data: Any, optional: bool = False) -> None:
        """Add a column with a value for every row (a list or 1-d array; a 2-d array gives a
        numpy-array cell per row)."""
        name = _check_column_name(name, self._columns)
        if isinstance(data, np.ndarray):
            data = data.tolist() if data.ndim == 1 else list(data)
        elif not isinstance(data, (list, tuple)):
            raise InvalidValueError(
                f"add_column({name!r}) needs a list or numpy array of values, got {type(data).__name__}"
            )
        if self._columns and len(data) != self._nrows:
            raise InvalidValueError(
                f"add_column({name!r}) got {len(data)} values but the table has {self._nrows} rows"
            )
        self._columns.append(name)
        self._family.append(None)
        self._declared.append(False)
        self._optional.append(bool(optional))
        self._seen.append(set())
        types = set(map(type, data))
        try:
            family, seen = self._admit(len(self._columns) - 1, types)
        except Exception:
            for attr in (self._columns, self._family, self._declared, self._optional, self._seen):
                attr.pop()
            raise
        self._family[-1], self._seen[-1] = family, seen
        self._accepted.append(types)
        self._cells.append(list(data))
        self._nrows = len(data)

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], Mapping[str, Any]]) -> None:
        """Add the columns `fn(index, row_as_dict)` returns for every row."""
        new: dict[str, list[Any]] = {}
        for i, row in self.iterrows():
            for key, value in fn(i, dict(zip(self._columns, row))).items():
                new.setdefault(key, []).append(value)
        for key, values in new.items():
            if len(values) != self._nrows:
                raise InvalidValueError(f"add_computed_columns: column {key!r} is not returned for every row")
            self.add_column(key, values, optional=True)

    def cast(self, col_name: str, dtype: Any, optional: bool = False) -> None:
        """Fix column `col_name` to `dtype` (a type, as in the constructor); its cells must fit."""
        j = self._index_of(col_name)
        family = dtype_family(col_name, dtype)
        saved = (self._family[j], self._declared[j], self._optional[j])
        self._family[j], self._declared[j], self._optional[j] = family, True, bool(optional)
        types = set(map(type, self._cells[j]))
        try:
            self._admit(j, types)
        except Exception:
            self._family[j], self._declared[j], self._optional[j] = saved
            raise
        self._accepted[j] = types  # what the old rules let in may not pass the new ones

    def _index_of(self, name: str) -> int:
        try:
            return self._columns.index(name)
        except ValueError:
            raise KeyError(f"Table has no column {name!r}; its columns are {self._columns}") from None

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The column's values as a list, or as a numpy array with convert_to="numpy"."""
        values = list(self._cells[self._index_of(name)])
        if convert_to is None:
            return values
        if convert_to == "numpy":
            return np.array(values)
        raise InvalidValueError(f"get_column: convert_to must be None or 'numpy', got {convert_to!r}")

    def get_index(self) -> list[int]:
        """The row indices, 0..n-1."""
        return list(range(self._nrows))

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """(index, row as a list) for every row."""
        for i, row in enumerate(zip(*self._cells)):
            yield i, list(row)

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame (pandas is an extra: pip install 'runlake[pandas]')."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingExtraError(
                "Table.get_dataframe() returns pandas, which is not installed: "
                "pip install 'runlake[pandas]'"
            ) from None
        return pd.DataFrame({c: cells for c, cells in zip(self._columns, self._cells)},
                            columns=self._columns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self._columns == other._columns and self._cells == other._cells

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"<runlake.Table {self._nrows} rows x {len(self._columns)} columns {self._columns}>"

    # -- logging -----------------------------------------------------------------------------

    def to_arrow(self, ctx: MediaContext | None = None) -> pa.Table:
        """The table as Arrow, as it is stored; media cells need the `ctx` of a run logging it."""
        arrays, kinds = [], []
        for j, name in enumerate(self._columns):
            mixed = len(self._seen[j]) > 1
            array, kind = arrow_column(name, self._cells[j], self._family[j], mixed, ctx)
            arrays.append(array)
            kinds.append({"name": name, "kind": kind})
        schema = pa.schema([pa.field(n, a.type) for n, a in zip(self._columns, arrays)],
                           metadata={META_KEY: json.dumps({"columns": kinds})})
        return pa.Table.from_arrays(arrays, schema=schema)

    def _encode(self, ctx: MediaContext) -> tuple[bytes, str, dict[str, Any]]:
        import pyarrow.parquet as pq

        table = self.to_arrow(ctx)
        sink = pa.BufferOutputStream()
        strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
        pq.write_table(table, sink, compression="zstd", use_dictionary=strings or False)
        return sink.getvalue().to_pybytes(), ".table.parquet", {
            "ncols": len(self._columns), "nrows": self._nrows, "columns": list(self._columns),
        }


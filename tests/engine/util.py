"""Reading a run's history back with plain pyarrow, and comparing logged rows with it."""

from __future__ import annotations

import math
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from runlake.engine import wal
from runlake.engine.kinds import FloatList, IntList, StrList
from runlake.engine.layout import RunPaths

BASE = ("_step", "_runtime", "_timestamp")


def ipc_bytes(table: pa.Table) -> bytes:
    """A table's Arrow IPC stream: equal for equal tables, NaN included (Table.equals is not)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def segment_tables(paths: RunPaths) -> list[pa.Table]:
    files = sorted(paths.history_dir.glob("part-*.parquet"))
    return [pq.read_table(f, partitioning=None) for f in files]


def history(paths: RunPaths) -> pa.Table | None:
    """Every segment in file order (not re-sorted, so step order is checked for real)."""
    tables = segment_tables(paths)
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def wal_tables(paths: RunPaths) -> list[pa.Table]:
    return [t for f in sorted(paths.wal_dir.glob("*.arrows")) for t in wal.read_frames(f)]


def wal_history(paths: RunPaths) -> pa.Table | None:
    tables = wal_tables(paths)
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def durable_rows(paths: RunPaths) -> list[tuple[int, dict]]:
    """Rows of the segments, then of the WAL, table by table: before close their column
    types may differ (bool, then float64...), so they are not concatenated."""
    return [r for t in segment_tables(paths) + wal_tables(paths) for r in stored_rows(t)]


def logical_rows(table: pa.Table | None) -> list[tuple[int, dict]]:
    """(step, {key: value}) per row, sibling columns `key@family` folded back into `key`."""
    if table is None:
        return []
    out = []
    for row in table.to_pylist():
        values: dict = {}
        for name, v in row.items():
            if name in BASE or v is None:
                continue
            key = name.split("@", 1)[0]
            assert key not in values, f"two non-null columns for {key!r} in one row: {row}"
            values[key] = v
        out.append((row["_step"], values))
    return out


def norm(v):
    """A loose comparable form: bools and ints as floats (columns widen), NaN equal to NaN."""
    if isinstance(v, str):  # before np.generic: np.str_("\x00").item() is "" (numpy strips NULs)
        return ("s", str.__str__(v))
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (bool, int, float)):
        f = float(v)
        return ("n", "nan" if math.isnan(f) else f)
    if isinstance(v, (list, tuple)):
        return ("l", tuple(norm(x) if x is not None else None for x in v))
    raise TypeError(type(v))


def norm_rows(rows: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    return [(s, {k: norm(v) for k, v in d.items() if v is not None}) for s, d in rows]


# -- an oracle of docs/FORMAT.md "Schema evolution", written from the text, not the engine ----

FAMILY = {"bool": "number", "int": "number", "float": "number", "str": "str",
          "list_int": "list", "list_float": "list", "list_str": "list_str"}
RANK = {"bool": 0, "int": 1, "float": 2, "list_int": 0, "list_float": 1, "str": 0, "list_str": 0}
ARROW = {
    "bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.large_string(),
    "list_int": pa.list_(pa.int64()), "list_float": pa.list_(pa.float64()),
    "list_str": pa.list_(pa.large_string()),
}
_INT64 = range(-(2**63), 2**63)


def kind_of(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int" if int(v) in _INT64 else "float"  # beyond int64: stored as float64
    if isinstance(v, (float, np.floating)):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, IntList):
        return "list_int" if all(x is None or x in _INT64 for x in v) else "list_float"
    if isinstance(v, FloatList):
        return "list_float"
    if isinstance(v, StrList):
        return "list_str"
    raise TypeError(type(v))


def _as(v, kind: str):
    if kind == "bool":
        return bool(v)
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "str":
        return str.__str__(v)  # the string itself: str(np.str_("\x00")) drops the NUL
    if kind == "list_int":
        return [None if x is None else int(x) for x in v]
    if kind == "list_float":
        return [None if x is None else float(x) for x in v]
    return list(v)


def expected_store(logged: list[tuple[int, dict]]) -> tuple[dict, list[tuple[int, dict]]]:
    """Final column kinds, and each row as {column: value} after every widening."""
    main: dict[str, str] = {}    # key -> the family of its own column (its first value's)
    kinds: dict[str, str] = {}   # column -> the widest kind it has held
    placed = []
    for step, row in logged:
        out = {}
        for key, v in row.items():
            kind = kind_of(v)
            if kind is None:
                continue
            family = main.setdefault(key, FAMILY[kind])
            column = key if family == FAMILY[kind] else f"{key}@{FAMILY[kind]}"
            have = kinds.get(column)
            kinds[column] = kind if have is None or RANK[kind] > RANK[have] else have
            out[column] = v
        placed.append((step, out))
    return kinds, [(s, {c: _as(v, kinds[c]) for c, v in out.items()}) for s, out in placed]


def stored_rows(table: pa.Table | None) -> list[tuple[int, dict]]:
    """(step, {column: value}) per row, nulls and the time columns left out."""
    if table is None:
        return []
    return [
        (row["_step"], {k: v for k, v in row.items() if k not in BASE and v is not None})
        for row in table.to_pylist()
    ]


def same_value(a, b) -> bool:
    """Equal and of the same type (bool is not int is not float); NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(
            (x is None and y is None) or (x is not None and y is not None and same_value(x, y))
            for x, y in zip(a, b)
        )
    return a == b


def same_rows(got: list[tuple[int, dict]], want: list[tuple[int, dict]]) -> bool:
    return len(got) == len(want) and all(
        gs == ws and g.keys() == w.keys() and all(same_value(g[k], w[k]) for k in g)
        for (gs, g), (ws, w) in zip(got, want)
    )


class CycleCounter:
    """An `on_cycle` hook that lets a test wait (without a deadline) for writer cycles."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self, final: bool) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_for_fresh_cycle(self, writer) -> None:
        """Return once a whole cycle has started and ended after this call began.

        A failing cycle does not reach the hook: fail then instead of waiting for ever.
        """
        with self._cond:
            target = self.count + 2
            while self.count < target:
                assert writer.error is None, f"the writer failed: {writer.error!r}"
                assert writer._thread.is_alive(), "the writer thread stopped"
                self._cond.wait(0.05)

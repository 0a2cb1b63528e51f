"""The history files are plain Parquet: pyarrow, polars, DuckDB, pandas and fastparquet read the
same values from them, with no runlake code."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

import runlake

N = 40


def expected_rows() -> list[dict]:
    """What the run below logs, one dict per step; None is a missing value."""
    out = []
    for i in range(N):
        out.append({
            "_step": i,
            "f": i / 7 if i != 5 else (float("nan") if i == 5 else 0.0),
            "inf": math.inf if i % 2 else -math.inf,
            "i": i * 1000 if i % 3 else None,
            "big": 2**40 + i,
            "b": (i % 2 == 0) if i % 5 else None,
            "s": f"ü-{i}" if i % 4 else None,
            "nested.x": float(i) if i % 6 else None,
            "li": [i, i + 1, None] if i % 3 != 1 else None,
            "lf": [i / 2, 0.25] if i % 2 else None,
            "ls": ["a", f"b{i}", None] if i % 2 == 0 else None,
        })
    return out


def log_run(root: Path, **settings) -> str:
    with runlake.init(project="interop", settings=runlake.Settings(root=root, **settings)) as run:
        for row in expected_rows():
            data = {k: v for k, v in row.items() if v is not None and k != "_step"}
            nested = data.pop("nested.x", None)
            if nested is not None:
                data["nested"] = {"x": nested}
            run.log(data)
    return run.id


def segment_files(root: Path) -> list[Path]:
    files = sorted(root.glob("history/*/*/*/part-*.parquet"))
    assert files
    return files


def _nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def same(a, b, loose: bool = False) -> bool:
    """Equal values of equal types (NaN equals NaN). `loose`: for readers that turn numbers
    into numpy scalars and nulls inside numeric lists into NaN (pandas' numpy dtypes)."""
    if loose and hasattr(a, "item") and not isinstance(a, (list, tuple, str)):
        a = a.item()
    if _nan(a) and _nan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, loose) for x, y in zip(a, b))
    if loose:
        if b is None:
            return a is None or _nan(a)
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            return isinstance(a, (int, float)) and not isinstance(a, bool) and a == b
    return a == b and type(a) is type(b) or (a is None and b is None)


def assert_rows(got: list[dict], columns: list[str], *, nan_is_null: bool = False) -> None:
    want = expected_rows()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for col in columns:
            a, b = g[col], w[col]
            if nan_is_null and col in ("f", "nested.x", "i") and (
                b is None or (isinstance(b, float) and math.isnan(b))
            ):
                assert a is None or (isinstance(a, float) and math.isnan(a)), (col, a, b)
                continue
            if nan_is_null and col == "i" and b is not None:
                assert a == b, (col, a, b)  # an int column with nulls may come back as float
                continue
            assert same(a, b, loose=nan_is_null), (w["_step"], col, a, b)


SCALARS = ["_step", "f", "inf", "i", "big", "b", "s", "nested.x"]
LISTS = ["li", "lf", "ls"]


@pytest.fixture(params=[False, True], ids=["default", "compact"])
def store(request, root) -> tuple[Path, str, bool]:
    run_id = log_run(root, compact_parquet=request.param)
    return root, run_id, request.param


def test_pyarrow_reads_every_value(store):
    root, _, _ = store
    [f] = segment_files(root)
    table = pq.read_table(f)
    assert table.column_names[:3] == ["_step", "_runtime", "_timestamp"]
    assert_rows(table.to_pylist(), SCALARS + LISTS)


def test_polars_reads_every_value_and_the_partitions(store):
    root, run_id, _ = store
    df = pl.read_parquet(str(root / "history" / "**" / "*.parquet"), hive_partitioning=True)
    assert df["run_id"].unique().to_list() == [run_id]
    assert df["project"].unique().to_list() == ["interop"]
    assert df["entity"].unique().to_list() == ["local"]
    assert_rows(df.sort("_step").to_dicts(), SCALARS + LISTS)


def test_duckdb_reads_every_value_and_the_partitions(store):
    root, run_id, _ = store
    glob = str(root / "history" / "**" / "*.parquet")
    con = duckdb.connect()
    rel = con.sql(
        f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true) "
        "ORDER BY _step"
    )
    names = rel.columns
    got = [dict(zip(names, r)) for r in rel.fetchall()]
    assert {g["run_id"] for g in got} == {run_id}
    assert {g["project"] for g in got} == {"interop"}
    assert_rows(got, SCALARS + LISTS)


def _pandas_rows(df: pd.DataFrame) -> list[dict]:
    out = []
    for rec in df.to_dict("records"):
        row = {}
        for k, v in rec.items():
            if hasattr(v, "tolist"):
                v = v.tolist()
            elif v is pd.NA:
                v = None
            elif hasattr(v, "item") and not isinstance(v, (str, bytes)):
                v = v.item()
            row[k] = v
        out.append(row)
    return out


def test_pandas_reads_every_value(store):
    root, _, _ = store
    [f] = segment_files(root)
    df = pd.read_parquet(f).sort_values("_step")
    assert_rows(_pandas_rows(df), [c for c in SCALARS if c not in ("b", "s")] + LISTS, nan_is_null=True)
    # bools and strings with gaps come back as objects with None/NaN; compare them one by one
    want = expected_rows()
    for col in ("b", "s"):
        got = df[col].tolist()
        for g, w in zip(got, want):
            assert (g == w[col]) if w[col] is not None else pd.isna(g), (col, g, w[col])
    # with pyarrow-backed dtypes pandas keeps null and NaN apart, and the list types
    df = pd.read_parquet(f, dtype_backend="pyarrow").sort_values("_step")
    got = [{k: (None if v is pd.NA else v) for k, v in r.items()} for r in df.to_dict("records")]
    for r in got:
        for col in LISTS:
            r[col] = None if r[col] is None else list(r[col])
    assert_rows(got, SCALARS + LISTS)


def test_fastparquet_reads_the_default_files(root):
    fastparquet = pytest.importorskip("fastparquet", reason="fastparquet is in the test extra")
    log_run(root)
    [f] = segment_files(root)
    df = fastparquet.ParquetFile(str(f)).to_pandas().sort_values("_step")
    rows = _pandas_rows(df)
    assert_rows(rows, ["_step", "f", "inf", "i", "big", "nested.x"], nan_is_null=True)
    want = expected_rows()
    for col in ("b", "s"):
        for g, w in zip(rows, want):
            assert (g[col] == w[col]) if w[col] is not None else (g[col] is None or pd.isna(g[col])), (
                col, g[col], w[col]
            )
    # fastparquet reads the list columns too (nulls inside a list stay None)
    for col in LISTS:
        for g, w in zip(rows, want):
            if w[col] is None:
                assert g[col] is None or (isinstance(g[col], float) and math.isnan(g[col])), (col, g[col])
            else:
                assert same(list(g[col]), w[col], loose=True), (col, g[col], w[col])


def test_compact_parquet_really_uses_byte_stream_split(root):
    log_run(root, compact_parquet=True)
    [f] = segment_files(root)
    meta = pq.ParquetFile(f).metadata
    names = [meta.schema.column(j).path for j in range(meta.num_columns)]
    encodings = {
        names[j]: meta.row_group(0).column(j).encodings for j in range(meta.num_columns)
    }
    assert "BYTE_STREAM_SPLIT" in encodings["f"]
    assert "BYTE_STREAM_SPLIT" not in encodings["i"]


def test_default_files_use_no_byte_stream_split(root):
    log_run(root)
    [f] = segment_files(root)
    meta = pq.ParquetFile(f).metadata
    for j in range(meta.num_columns):
        assert "BYTE_STREAM_SPLIT" not in meta.row_group(0).column(j).encodings


def test_a_media_key_reads_the_same_in_every_reader(root):
    """A media column is a struct (docs/FORMAT.md, "Media"): each reader unnests it alike."""
    import numpy as np

    with runlake.init(settings={"root": root}, project="interop") as run:
        for i in range(4):
            data = {"loss": i / 4, "img": runlake.Image(np.full((3, 2), i * 60, dtype=np.uint8),
                                                        caption=f"c{i}")}
            if i % 2:
                data["hist"] = runlake.Histogram([i, i + 1, i + 1], num_bins=2)
            run.log(data)
    [f] = segment_files(root)
    want = [(f"c{i}", 2, 3) for i in range(4)]
    got = [(r["caption"], r["width"], r["height"]) for r in pq.read_table(f).column("img").to_pylist()]
    assert got == want
    df = pl.read_parquet(f).unnest("img")
    assert list(zip(df["caption"], df["width"], df["height"])) == want
    assert duckdb.sql(f"SELECT img.caption, img.width, img.height FROM '{f}' ORDER BY _step").fetchall() == want
    pdf = pd.read_parquet(f)
    assert [(d["caption"], d["width"], d["height"]) for d in pdf["img"]] == want
    hist = duckdb.sql(f"SELECT hist.values FROM '{f}' WHERE hist IS NOT NULL ORDER BY _step").fetchall()
    assert hist == [([1, 2],), ([1, 2],)]
    for path in duckdb.sql(f"SELECT img.path FROM '{f}'").fetchall():
        assert (Path(run.dir) / path[0]).is_file()

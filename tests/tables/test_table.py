"""runlake.Table: construction, wandb's methods, type rules, and the Parquet it encodes to.

Most tests drive `_encode` with a minimal MediaContext that keeps nested media in memory
(tests/helpers.py) and read the Parquet bytes with plain DuckDB/pyarrow; the last ones log
through run.log and read the run's files.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runlake
from runlake import InvalidNameError, InvalidValueError, Table
from runlake.media.base import Media
from runlake.tables.table import META_KEY
from tests.helpers import Ctx, Note


def encoded(table: Table, ctx: Ctx | None = None) -> tuple[pa.Table, dict]:
    data, suffix, fields = table._encode(ctx or Ctx())
    assert suffix == ".table.parquet"
    return pq.read_table(io.BytesIO(data)), fields


def test_readme_example_round_trips_through_parquet(tmp_path):
    rows = [[i, "cat" if i % 2 else "dog", i / 10] for i in range(5)]
    table = runlake.Table(columns=["id", "label", "score"], data=rows)
    data, suffix, fields = table._encode(Ctx())
    assert fields == {"ncols": 3, "nrows": 5, "columns": ["id", "label", "score"]}
    path = tmp_path / f"preds{suffix}"
    path.write_bytes(data)
    got = duckdb.sql(f"SELECT * FROM read_parquet('{path}') ORDER BY id").fetchall()
    assert got == [tuple(r) for r in rows]
    types = dict(duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()[i][:2]
                 for i in range(3))
    assert types == {"id": "BIGINT", "label": "VARCHAR", "score": "DOUBLE"}
    assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"
    assert pl.read_parquet(path)["label"].to_list() == [r[1] for r in rows]


def test_defaults_and_rows_alias():
    assert Table().columns == ["Input", "Output", "Expected"]
    t = Table(rows=[[1, 2, 3]])
    assert t.data == [[1, 2, 3]]
    assert Table(columns=["a"], data=np.arange(3).reshape(3, 1)).get_column("a") == [0, 1, 2]


def test_add_data_add_column_get_column_index_iterrows():
    t = Table(columns=["a", "b"])
    t.add_data(1, "x")
    t.add_data(2.5, "y")
    t.add_column("c", np.array([True, False]))
    assert t.columns == ["a", "b", "c"]
    assert t.data == [[1, "x", True], [2.5, "y", False]]
    assert t.get_column("a") == [1, 2.5]
    arr = t.get_column("a", convert_to="numpy")
    assert isinstance(arr, np.ndarray) and arr.tolist() == [1.0, 2.5]
    assert t.get_index() == [0, 1]
    assert list(t.iterrows()) == [(0, [1, "x", True]), (1, [2.5, "y", False])]
    out, _ = encoded(t)
    assert out.schema.field("a").type == pa.float64() and out.schema.field("c").type == pa.bool_()
    with pytest.raises(KeyError, match="no column 'zz'"):
        t.get_column("zz")
    with pytest.raises(InvalidValueError, match="convert_to"):
        t.get_column("a", convert_to="torch")


def test_add_column_to_an_empty_table_and_computed_columns():
    t = Table(columns=[])
    t.add_column("user", ["geoff", "juergen", "ada"])
    t.add_computed_columns(lambda i, row: {"n": len(row["user"]), "i": i})
    assert t.get_column("n") == [5, 7, 3] and t.get_column("i") == [0, 1, 2]


def test_add_column_errors_leave_the_table_unchanged():
    t = Table(columns=["a"], data=[[1], [2]])
    with pytest.raises(InvalidValueError, match="got 3 values but the table has 2 rows"):
        t.add_column("b", [1, 2, 3])
    with pytest.raises(InvalidNameError, match="already has a column named 'a'"):
        t.add_column("a", [1, 2])
    with pytest.raises(InvalidValueError, match="'b' is not optional and got None"):
        t.add_column("b", [1, None])
    with pytest.raises(InvalidNameError, match="must be strings"):
        t.add_column(3, [1, 2])
    assert t.columns == ["a"] and t.data == [[1], [2]]
    t.add_column("b", [1, None], optional=True)
    assert t.data == [[1, 1], [2, None]]


def test_get_dataframe_matches_wandb():
    t = Table(columns=["id", "label"], data=[[1, "a"], [2, "b"]])
    df = t.get_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["id", "label"] and df["label"].tolist() == ["a", "b"]


def test_get_dataframe_without_pandas_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name.split(".")[0] == "pandas":
            raise ImportError("no pandas")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=r"runlake\[pandas\]"):
        Table(columns=["a"], data=[[1]]).get_dataframe()


def test_from_pandas_and_polars_dataframes():
    pdf = pd.DataFrame({"x": [1, 2], "name": ["a", None], "f": [0.5, np.nan]})
    t = Table(dataframe=pdf)
    assert t.columns == ["x", "name", "f"]
    assert t.get_column("x") == [1, 2] and t.get_column("name") == ["a", None]
    assert np.isnan(t.get_column("f")[1])
    assert Table(data=pdf).columns == ["x", "name", "f"]  # wandb accepts a DataFrame as data
    t2 = Table(dataframe=pl.DataFrame({"x": [1, None], "s": ["u", "v"]}))
    assert t2.data == [[1, "u"], [None, "v"]]
    out, _ = encoded(t2)
    assert out.to_pylist() == [{"x": 1, "s": "u"}, {"x": None, "s": "v"}]


def test_cell_types_keep_their_arrow_types():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    t = Table(columns=["i", "f", "b", "s", "l", "arr", "d", "t", "none", "np"], data=[
        [1, 1.5, True, "x", [1, 2], np.array([0.5, 1.5]), {"k": 1}, when, None, np.int32(7)],
        [2, 2.5, False, "y", [3], np.array([2.5]), {"k": 2}, when, None, np.int64(8)],
    ])
    out, _ = encoded(t)
    types = {f.name: f.type for f in out.schema}
    assert types["i"] == pa.int64() and types["f"] == pa.float64() and types["b"] == pa.bool_()
    assert types["l"] == pa.list_(pa.int64()) and types["arr"] == pa.list_(pa.float64())
    assert types["d"] == pa.struct([("k", pa.int64())]) and types["np"] == pa.int64()
    assert pa.types.is_timestamp(types["t"]) and types["none"] == pa.null()
    row = out.to_pylist()[0]
    assert row["arr"] == [0.5, 1.5] and row["t"] == when and row["np"] == 7
    kinds = json.loads(out.schema.metadata[META_KEY])["columns"]
    assert [k["kind"] for k in kinds][:4] == ["number", "number", "bool", "str"]


def test_int_beyond_int64_becomes_float():
    out, _ = encoded(Table(columns=["big"], data=[[2**70], [1]]))
    assert out.schema.field("big").type == pa.float64() and out.column("big")[0].as_py() == 2.0**70


def test_mixed_types_refused_with_the_column_and_kinds():
    t = Table(columns=["a", "b"], data=[[1, "x"]])
    with pytest.raises(InvalidValueError, match="'b' would mix number and str"):
        t.add_data(2, 3)
    assert t.data == [[1, "x"]]  # the refused row left nothing behind
    with pytest.raises(InvalidValueError, match="'a' would mix"):
        Table(columns=["a"], data=[[1], ["one"]])
    with pytest.raises(InvalidValueError, match="'a' would mix bool and number"):
        Table(columns=["a"], data=[[True], [2]])


def test_allow_mixed_types_stores_json_text():
    t = Table(columns=["a", "b"], data=[[1, "x"], ["one", "y"], [None, "z"]], allow_mixed_types=True)
    out, _ = encoded(t)
    assert out.schema.field("a").type == pa.string() and out.schema.field("b").type == pa.string()
    assert out.column("a").to_pylist() == ["1", '"one"', None]
    kinds = {k["name"]: k["kind"] for k in json.loads(out.schema.metadata[META_KEY])["columns"]}
    assert kinds == {"a": "json", "b": "str"}


def test_dicts_that_disagree_fall_back_to_json_text():
    out, _ = encoded(Table(columns=["d"], data=[[{"k": 1}], [{"k": "x"}]]))
    assert out.column("d").to_pylist() == ['{"k": 1}', '{"k": "x"}']


def test_dtype_and_optional():
    t = Table(columns=["a", "b"], dtype=[int, str], optional=[False, True])
    t.add_data(1, None)
    with pytest.raises(InvalidValueError, match="'a' has dtype number and got str"):
        t.add_data("1", "x")
    with pytest.raises(InvalidValueError, match="'a' is not optional"):
        t.add_data(None, "x")
    empty, _ = encoded(Table(columns=["a"], dtype=str))
    assert empty.num_rows == 0
    with pytest.raises(InvalidValueError, match="dtype for column 'a'"):
        Table(columns=["a"], dtype="int")
    with pytest.raises(InvalidValueError, match="dtype has 1 entries"):
        Table(columns=["a", "b"], dtype=[int])
    with pytest.raises(InvalidValueError, match="not optional"):
        t.cast("b", str)  # it holds a None
    t.cast("b", str, optional=True)
    with pytest.raises(InvalidValueError, match="'b' has dtype str"):
        t.add_data(2, 3)
    with pytest.raises(InvalidValueError, match="'a' is not optional"):
        Table(columns=["a"], data=[[None]], optional=False)


def test_bad_input_is_refused_clearly():
    with pytest.raises(InvalidValueError, match="row 1 has 2 values but the table has 3 columns"):
        Table(data=[[1, 2, 3], [1, 2]])
    with pytest.raises(InvalidValueError, match="2-D"):
        Table(columns=["a"], data=np.zeros(3))
    with pytest.raises(InvalidValueError, match="list of rows"):
        Table(columns=["a"], data="abc")
    with pytest.raises(InvalidValueError, match="got a builtins.object"):
        Table(columns=["a"], data=[[object()]])
    with pytest.raises(InvalidValueError, match="got 1 values but the table has 2"):
        Table(columns=["a", "b"]).add_data(1)
    with pytest.raises(InvalidNameError, match="already has a column named 'a'"):
        Table(columns=["a", "a"])
    with pytest.raises(InvalidNameError, match="must be strings"):
        Table(columns=[1, 2])
    with pytest.raises(InvalidValueError, match="pandas or polars"):
        Table(dataframe=[[1]])


def test_media_cells_are_stored_through_the_context_as_struct_references():
    ctx = Ctx("samples", 3)
    t = Table(columns=["id", "note"], data=[[1, Note("hello")], [2, None], [3, Note("hi")]])
    out, fields = encoded(t, ctx)
    assert fields["nrows"] == 3
    refs = out.column("note").to_pylist()
    assert refs[1] is None
    assert refs[0]["_type"] == "note-file" and refs[0]["chars"] == 5
    assert ctx.files[refs[0]["path"]] == b"hello" and ctx.files[refs[2]["path"]] == b"hi"
    assert refs[0]["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert pa.types.is_struct(out.schema.field("note").type)
    with pytest.raises(InvalidValueError, match="'note' would mix"):
        t.add_data(4, "text")
    with pytest.raises(InvalidValueError, match="stored when the table is logged"):
        t.to_arrow()


def test_equality_and_repr():
    a = Table(columns=["x"], data=[[1]])
    assert a == Table(columns=["x"], data=[[1]]) and a != Table(columns=["x"], data=[[2]])
    assert "1 rows x 1 columns" in repr(a)


# -- through run.log (the media log path) ------------------------------------------------------

class Broken(Media):
    _log_type = "broken-file"
    _folder = "broken"

    def _encode(self, ctx):
        raise InvalidValueError("this value cannot be encoded")


def test_logged_table_is_a_parquet_file_and_a_struct_reference(root):
    rows_ = [[i, "cat" if i % 2 else "dog", i / 10] for i in range(5)]
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log({"preds": runlake.Table(columns=["id", "label", "score"], data=rows_), "loss": 0.5})
        run.log({"preds": runlake.Table(columns=["id", "label", "score"], data=rows_[:2])})
    files = Path(run.dir)
    refs = duckdb.sql(
        f"SELECT _step, preds FROM read_parquet('{root}/history/**/*.parquet') ORDER BY _step"
    ).fetchall()
    (s0, first), (s1, second) = refs
    assert (s0, s1) == (0, 1) and first["_type"] == "table-file"
    assert re.fullmatch(r"media/tables/preds_0_[0-9a-f]{20}\.table\.parquet", first["path"])
    assert (first["ncols"], first["nrows"], list(first["columns"])) == (3, 5, ["id", "label", "score"])
    data = (files / first["path"]).read_bytes()
    assert first["sha256"] == hashlib.sha256(data).hexdigest() and first["size"] == len(data)
    # DuckDB adds the run's partition columns from the path unless told not to
    got = duckdb.sql(f"SELECT * FROM read_parquet('{files / first['path']}', hive_partitioning = false)"
                     " ORDER BY id").fetchall()
    assert got == [tuple(r) for r in rows_]
    partition = duckdb.sql(f"SELECT DISTINCT run_id FROM read_parquet('{files / first['path']}')")
    assert partition.fetchall() == [(run.id,)]
    assert pl.read_parquet(files / second["path"]).height == 2
    assert run.summary["preds"]["path"] == second["path"]  # the summary holds the last reference


def test_media_cells_are_stored_as_their_own_files(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"samples": Table(columns=["id", "note"], data=[[1, Note("hello")], [2, None]])})
    files = Path(run.dir)
    [ref] = duckdb.sql(f"SELECT samples FROM read_parquet('{root}/history/**/*.parquet')").fetchall()[0]
    cells = pq.read_table(files / ref["path"]).column("note").to_pylist()
    assert cells[1] is None and cells[0]["_type"] == "note-file"
    assert (files / cells[0]["path"]).read_bytes() == b"hello"
    assert cells[0]["path"].startswith("media/notes/samples_0_")


def test_a_table_whose_cell_fails_to_encode_logs_nothing_of_its_call(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(InvalidValueError, match="cannot be encoded"):
            run.log({"t": Table(columns=["m"], data=[[Broken()]]), "loss": 1.0})
        run.log({"loss": 2.0})
    got = duckdb.sql(f"SELECT _step, loss FROM read_parquet('{root}/history/**/*.parquet', "
                     "union_by_name = true) ORDER BY _step").fetchall()
    assert got == [(0, 2.0)]


def test_disabled_run_logs_a_table_as_a_no_op(root):
    with runlake.init(settings={"root": root}, mode="disabled") as run:
        run.log({"t": Table(columns=["a"], data=[[1]])})
    assert not root.exists()


def test_rows_of_known_types_skip_the_checks_but_not_the_rules():
    t = Table(columns=["a", "b"], optional=[False, True])
    for i in range(3):
        t.add_data(i, None)
    t.add_data(3, "x")
    with pytest.raises(InvalidValueError, match="'a' is not optional"):
        t.add_data(None, "y")
    with pytest.raises(InvalidValueError, match="'b' would mix"):
        t.add_data(4, 4)
    with pytest.raises(InvalidValueError, match="not optional"):
        t.cast("b", str, optional=False)
    t.add_data(5, None)  # the failed cast left b as it was
    assert t.get_column("a") == [0, 1, 2, 3, 5] and len(t.data) == 5


_CELLS = {
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False),
    "str": st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
    "bool": st.booleans(),
    "ints": st.lists(st.integers(-1000, 1000), max_size=3),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(_CELLS)), min_size=1, max_size=4).flatmap(
    lambda kinds: st.tuples(st.just(kinds), st.lists(st.tuples(
        *[st.one_of(st.none(), _CELLS[k]) for k in kinds]), max_size=12))))
def test_any_table_of_scalars_round_trips_through_its_parquet(case):
    kinds, rows_ = case
    columns = [f"c{i}" for i in range(len(kinds))]
    table = Table(columns=columns, data=[list(r) for r in rows_])
    out, fields = encoded(table)
    assert fields["nrows"] == len(rows_) and out.column_names == columns
    assert [list(r.values()) for r in out.to_pylist()] == [list(r) for r in rows_]


def test_image_cells_are_image_files_and_references(root):
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    table = Table(columns=["id", "image"])
    table.add_data(0, runlake.Image(pixels, caption="first"))
    table.add_data(1, runlake.Image(pixels[::-1].copy()))
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log({"samples": table})
    files = Path(run.dir)
    ref = run.summary["samples"]
    cells = pq.read_table(files / ref["path"]).column("image").to_pylist()
    assert [c["_type"] for c in cells] == ["image-file", "image-file"]
    assert (cells[0]["width"], cells[0]["height"], cells[0]["caption"]) == (5, 4, "first")
    for cell in cells:
        assert cell["path"].startswith("media/images/samples_0_")
        assert hashlib.sha256((files / cell["path"]).read_bytes()).hexdigest() == cell["sha256"]
    got = runlake.Api(root=root).sql(
        "SELECT id, image.width, image.path FROM table('samples') ORDER BY id").fetchall()
    assert [(i, w) for i, w, _ in got] == [(0, 5), (1, 5)] and got[0][2] == cells[0]["path"]
